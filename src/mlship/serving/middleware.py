"""ASGI middleware: per-route HTTP metrics (status codes the app itself never sees included)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send


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


class DeclaredBodyLimit:
    """413 as JSON for a body whose Content-Length is over the limit, before it is read.

    FastAPI's own limit answers such a request in plain text (a streamed body that grows past
    the limit gets its JSON 413 from FastAPI); one error format for both.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            declared = dict(scope["headers"]).get(b"content-length", b"")
            if declared.isdigit() and int(declared) > self.max_bytes:
                body = b'{"detail":"Content Too Large"}'
                await send(
                    {
                        "type": "http.response.start",
                        "status": 413,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close"),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)
