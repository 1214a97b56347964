"""FastAPI dependencies of the routes: the app's Service, the admin and feedback token checks."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr

from mlship.monitoring.labels import FeedbackStore
from mlship.serving.service import Service


async def get_service(request: Request) -> Service:
    """The app's Service (async: FastAPI runs a sync dependency in a worker thread)."""
    service: Service = request.app.state.service
    return service


ServiceDep = Annotated[Service, Depends(get_service)]
_bearer = HTTPBearer(auto_error=False, description="MLSHIP_ADMIN_TOKEN")


def _given(
    credentials: HTTPAuthorizationCredentials | None, where: str
) -> HTTPAuthorizationCredentials:
    """The bearer credentials, or a 401 saying what needs them."""
    if credentials is None:
        raise HTTPException(
            401, f"{where} need Authorization: Bearer <token>", {"WWW-Authenticate": "Bearer"}
        )
    return credentials


def _check_bearer(
    credentials: HTTPAuthorizationCredentials | None,
    token: SecretStr | None,
    what: str,
    where: str,
) -> None:
    """401 without a bearer token, 403 unless it is `token` (an unset token matches none)."""
    given = _given(credentials, where)
    expected = token.get_secret_value() if token is not None else ""
    # Bytes: compare_digest refuses a str with non-ASCII characters (a client's `Bearer é`).
    secret = given.credentials.encode("utf-8", "surrogateescape")
    if not expected or not secrets.compare_digest(secret, expected.encode("utf-8")):
        raise HTTPException(403, f"invalid {what} token")


def require_admin(
    service: ServiceDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Allow only `Authorization: Bearer <MLSHIP_ADMIN_TOKEN>`: 401 without, 403 wrong."""
    _check_bearer(credentials, service.settings.admin_token, "admin", "admin endpoints")


AdminDep = Annotated[None, Depends(require_admin)]
_feedback_bearer = HTTPBearer(auto_error=False, description="MLSHIP_FEEDBACK_TOKEN")


def require_feedback(
    service: ServiceDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_feedback_bearer)],
) -> FeedbackStore:
    """The label store, for `Bearer <MLSHIP_FEEDBACK_TOKEN>` only: 401 without a token, then
    404 (naming the setting) when feedback is off, 403 for a wrong token.

    404, not 503: a service without feedback is not failing (fuzzers count a 5xx as a server
    error), it has no feedback to take.
    """
    where = "feedback posts"
    _given(credentials, where)
    token, store = service.settings.feedback_token, service.feedback
    if token is None:
        raise HTTPException(404, "feedback is off: set MLSHIP_FEEDBACK_TOKEN")
    if store is None:
        raise HTTPException(
            404,
            "feedback needs the recorder: set MLSHIP_RECORD_ENABLED=true (and MLSHIP_RECORD_DIR)",
        )
    _check_bearer(credentials, token, "feedback", where)
    return store


FeedbackDep = Annotated[FeedbackStore, Depends(require_feedback)]
