"""ASGI middleware: HTTP metrics, the bound on requests in progress, the body size limit."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mlship.serving.problems import error_response


class HttpMetrics:
    """Count every response by method, route template and status."""

    def __init__(self, app: ASGIApp, count: Callable[[str, str, int], Any]) -> None:
        self.app = app
        self.count = count

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def tracking(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, tracking)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"
            self.count(scope["method"], path, status)


class RequestBound:
    """503 in the one JSON error schema, with Retry-After, beyond `max_requests` in progress.

    uvicorn's own `limit_concurrency` answers in plain text, so the service bounds its requests
    here and keeps uvicorn's limit (MLSHIP_MAX_CONNECTIONS, on open connections) as a higher
    backstop. A request counts from its headers until its answer is sent, so a slow body holds
    a place (until MLSHIP_READ_TIMEOUT closes it). The `exempt` paths (liveness, the scrape) are
    never refused: an overloaded service is alive, and its metrics show the overload.
    """

    def __init__(
        self, app: ASGIApp, max_requests: int, retry_after: int, exempt: Collection[str]
    ) -> None:
        self.app = app
        self.max_requests = max_requests
        self.retry_after = str(retry_after)
        self.exempt = frozenset(exempt)
        # One event loop runs every request, so a plain counter needs no lock.
        self.in_progress = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.exempt:
            await self.app(scope, receive, send)
            return
        if self.in_progress >= self.max_requests:
            busy = error_response(
                503,
                f"more than {self.max_requests} requests in progress (MLSHIP_MAX_REQUESTS); "
                f"retry after {self.retry_after} s",
                {"Retry-After": self.retry_after},
            )
            await busy(scope, receive, send)
            return
        self.in_progress += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_progress -= 1


_TOO_LARGE = b'{"detail":"Content Too Large"}'


class BodyLimit:
    """413 with a JSON body once a request body is larger than `max_bytes`, declared or not.

    (FastAPI's own `max_body_size` answers in plain text when the size is declared.) A body
    that grows past the limit is cut off: the app sees the client gone and its answer is
    replaced by the 413.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await _too_large(send)
            return
        received = 0
        exceeded = started = False

        async def limited() -> Message:
            nonlocal received, exceeded
            if exceeded:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes and not started:
                    exceeded = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded(message: Message) -> None:
            nonlocal started
            if exceeded:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited, guarded)
        except Exception:  # pylint: disable=broad-exception-caught
            # Whatever the app made of a body cut off (a disconnect, a parse error) is
            # replaced by the 413; any other error goes on.
            if not exceeded:
                raise
        if exceeded:
            await _too_large(send)


async def _too_large(send: Send) -> None:
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(_TOO_LARGE)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": _TOO_LARGE})
