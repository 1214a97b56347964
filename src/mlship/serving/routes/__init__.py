"""The service's routes, one module per group: predict, ops (health, metrics), admin."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from fastapi import Response


def json_response(
    payload: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """`payload` as JSON, encoded by orjson (faster than FastAPI's response model path)."""
    content = orjson.dumps(payload)  # pylint: disable=no-member  # C extension
    return Response(
        content, status_code=status, media_type="application/json", headers=dict(headers or {})
    )
