"""FastAPI dependencies of the routes: the app's Service, the admin token check."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from mlship.serving.service import Service


async def get_service(request: Request) -> Service:
    """The app's Service (async: FastAPI runs a sync dependency in a worker thread)."""
    service: Service = request.app.state.service
    return service


ServiceDep = Annotated[Service, Depends(get_service)]
_bearer = HTTPBearer(auto_error=False, description="MLSHIP_ADMIN_TOKEN")


def require_admin(
    service: ServiceDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Allow only `Authorization: Bearer <MLSHIP_ADMIN_TOKEN>`: 401 without, 403 wrong."""
    if credentials is None:
        raise HTTPException(
            401,
            "admin endpoints need Authorization: Bearer <token>",
            {"WWW-Authenticate": "Bearer"},
        )
    token = service.settings.admin_token
    expected = token.get_secret_value() if token is not None else ""
    # Bytes: compare_digest refuses a str with non-ASCII characters (a client's `Bearer é`).
    given = credentials.credentials.encode("utf-8", "surrogateescape")
    if not expected or not secrets.compare_digest(given, expected.encode("utf-8")):
        raise HTTPException(403, "invalid admin token")


AdminDep = Annotated[None, Depends(require_admin)]
