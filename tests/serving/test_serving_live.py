"""A real `mlship serve` process: smoke, a minute of mixed traffic, schemathesis fuzzing.

The minute of traffic is a fixed-duration load test: system tier (tests/tiers.py), so the fast
tier's time does not include a minute of waiting.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from serving_helpers import live_service, model_columns, records

from mlship.config import Params

TOKEN = "live-admin-token"
LOAD_SECONDS = float(os.environ.get("MLSHIP_LOAD_TEST_SECONDS", "60"))


@pytest.fixture(scope="module", name="service")
def _service(
    trained_project: tuple[Path, Params], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    root, params = trained_project
    model_dir = root / params.paths.model_dir
    held_out = pd.read_parquet(root / params.paths.split_dir / "test.parquet")
    rows = records(held_out.head(200), model_columns(model_dir))
    env = {
        "MLSHIP_CHAMPION": str(model_dir),
        "MLSHIP_CHALLENGER": str(model_dir),
        "MLSHIP_TRAFFIC": "shadow",
        "MLSHIP_ADMIN_TOKEN": TOKEN,
        "MLSHIP_MAX_BODY_BYTES": "200000",
        "MLSHIP_MAX_BATCH": "100",
        # Feedback on, so that the fuzzing reaches POST /feedback's body (the one token opens
        # both it and /admin/*; without, every call is a 404 and schemathesis warns).
        "MLSHIP_FEEDBACK_TOKEN": TOKEN,
        "MLSHIP_RECORD_ENABLED": "true",
        "MLSHIP_RECORD_DIR": "records",
    }
    # Two models to load: a start on a loaded 2-core machine took over 60 s (a deadline for the
    # harness, not a figure under test).
    with live_service(env, tmp_path_factory.mktemp("live"), timeout=180) as url:
        yield url, rows


def test_live_service_is_ready_predicts_and_exposes_metrics(
    service: tuple[str, list[dict[str, Any]]],
) -> None:
    url, rows = service
    assert httpx.get(f"{url}/ready").json()["ready"] is True
    answer = httpx.post(f"{url}/predict", json=rows[0]).json()
    assert answer["model_role"] == "champion" and 0.0 <= answer["probability"] <= 1.0
    batch = httpx.post(f"{url}/predict", json={"records": rows[:50]}).json()
    assert len(batch["predictions"]) == 50
    metrics = httpx.get(f"{url}/metrics").text
    assert 'mlship_predict_requests_total{role="champion"' in metrics
    assert "mlship_predict_latency_seconds_bucket" in metrics
    assert httpx.get(f"{url}/docs").status_code == 200


def _requests(rows: list[dict[str, Any]]) -> list[tuple[str, str, dict[str, Any]]]:
    """Valid and invalid requests, cycled through by the load clients."""
    good = rows[0]
    return [
        ("POST", "/predict", {"json": good}),
        ("POST", "/predict", {"json": {"records": rows[:20]}}),
        ("POST", "/predict", {"json": {**good, "age": "forty"}}),
        ("POST", "/predict", {"json": {**good, "unknown": 1}}),
        ("POST", "/predict", {"json": {"records": rows[:101]}}),
        ("POST", "/predict", {"content": b'{"records": [', "headers": _json}),
        ("POST", "/predict", {"content": b"\xff\xfe garbage", "headers": _json}),
        ("POST", "/predict", {"content": b" " * 300_000, "headers": _json}),
        ("POST", "/predict", {"json": {**good, "contract": "never-seen", "age": None}}),
        ("POST", "/predict", {"json": [good]}),
        ("GET", "/predict", {}),
        ("POST", "/admin/traffic", {"json": {"mode": "canary", "canary_weight": 500}}),
        ("POST", "/admin/reload", {"headers": {"Authorization": "Bearer wrong"}}),
        ("GET", "/model", {}),
        ("GET", "/nowhere", {}),
    ]


_json = {"Content-Type": "application/json"}


async def _client_loop(
    url: str, plan: list[tuple[str, str, dict[str, Any]]], offset: int, until: float
) -> Counter[tuple[str, int]]:
    seen: Counter[tuple[str, int]] = Counter()
    async with httpx.AsyncClient(base_url=url, timeout=30.0) as client:
        index = offset
        while time.monotonic() < until:
            method, path, kwargs = plan[index % len(plan)]
            headers = {**kwargs.get("headers", {}), "X-Request-Key": f"key-{index}"}
            extra = {k: v for k, v in kwargs.items() if k != "headers"}
            response = await client.request(method, path, headers=headers, **extra)
            seen[(path, response.status_code)] += 1
            index += 1
    return seen


@pytest.mark.system
def test_a_minute_of_mixed_valid_and_invalid_traffic_gets_no_5xx(
    service: tuple[str, list[dict[str, Any]]],
) -> None:
    url, rows = service
    plan = _requests(rows)

    async def run() -> Counter[tuple[str, int]]:
        until = time.monotonic() + LOAD_SECONDS
        parts = await asyncio.gather(*(_client_loop(url, plan, i * 5, until) for i in range(4)))
        return sum(parts, Counter())

    seen = asyncio.run(run())
    server_errors = {key: n for key, n in seen.items() if key[1] >= 500}
    assert not server_errors, seen
    floor = max(5, LOAD_SECONDS / 4)  # the traffic really ran, even on a busy machine
    assert seen[("/predict", 200)] > floor and seen[("/predict", 422)] > floor
    assert seen[("/predict", 413)] > 0 and seen[("/admin/reload", 403)] > 0
    assert httpx.get(f"{url}/health").status_code == 200
    metrics = httpx.get(f"{url}/metrics").text
    assert "mlship_predict_errors_total{" not in metrics


# Issue 11: the property-based run belongs to the system tier (it is the longest serving test).
@pytest.mark.system
def test_schemathesis_with_every_check_finds_nothing(
    service: tuple[str, list[dict[str, Any]]], tmp_path: Path
) -> None:
    url, _ = service
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "run",
        f"{url}/openapi.json",
        # Every check, on valid and invalid requests: no 5xx, every status and body as the
        # OpenAPI document says, invalid data rejected and valid data accepted.
        "--checks",
        "all",
        "--mode",
        "all",
        "--wait-for-schema",
        "60",
        "--max-examples",
        "40",
        "--seed",
        "42",
        # stateful: chains of calls along the OpenAPI links (what /model reports, sent back to
        # /admin/reload and /admin/traffic, then /model again).
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--generation-database",
        "none",
        "--request-timeout",
        "30",
        "--header",
        f"Authorization: Bearer {TOKEN}",
    ]
    result = subprocess.run(
        command, cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    assert "No issues found" in output
    assert re.search(r"API Links:\s+4 covered / 4 selected / 4 total", output), output[-6000:]
