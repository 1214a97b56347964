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
