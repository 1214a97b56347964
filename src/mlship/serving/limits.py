"""uvicorn with server-side limits: a deadline to receive each request, keep-alive, a cap.

uvicorn (0.54) has no timeout while a request arrives: its keep-alive timer runs only between
requests and is cancelled by any byte received, so a client sending partial headers, or a body
shorter than its Content-Length, holds a connection forever. `RequestDeadline` closes a
connection whose next request has not fully arrived (headers and body) within
`MLSHIP_READ_TIMEOUT` seconds of the connection opening or of the previous answer. A request
uvicorn cannot parse gets the JSON 400 of the one error schema (`JsonBadRequest`), not uvicorn's
plain text.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import re
import socket
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from mlship.errors import AddressInUse, ParamsError
from mlship.serving.settings import ServeSettings


def _closing_answer(status_line: bytes, detail: bytes) -> bytes:
    """A whole HTTP answer in the one JSON error schema, closing the connection."""
    body = b'{"detail":"%s"}' % detail
    return (
        b"%s\r\ncontent-type: application/json\r\nconnection: close\r\n"
        b"content-length: %d\r\n\r\n%s" % (status_line, len(body), body)
    )


_TIMEOUT_RESPONSE = _closing_answer(
    b"HTTP/1.1 408 Request Timeout", b"request not received in time"
)
_INVALID_RESPONSE = _closing_answer(
    b"HTTP/1.1 400 Bad Request",
    b"invalid HTTP request (malformed, or headers beyond MLSHIP_MAX_HEADER_BYTES)",
)


# The blank line that ends a request's line and headers (bare LF too, as lenient parsers take).
_HEAD_END = re.compile(rb"\r?\n\r?\n")


class RequestDeadline(asyncio.Protocol):
    """Mixin for a uvicorn HTTP protocol: a deadline on receiving each request, a cap on its head.

    The deadline is armed when the connection opens and after each answer, and disarmed once a
    new request's headers and body are in (the app's own time is not limited). Both uvicorn
    protocols keep the request in progress in `self.cycle` and flag its end with `more_body`.
    """

    read_timeout: float = 10.0
    max_header_bytes: int = 16_384
    cycle: Any
    transport: asyncio.Transport
    _deadline: asyncio.TimerHandle | None = None
    _head_bytes = 0
    _head_tail = b""
    _awaited: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._arm(None)

    def data_received(self, data: bytes) -> None:
        # httptools (uvicorn's choice when installed) has no limit on the request line and
        # headers (h11 has, h11_max_incomplete_event_size): count them before either parser
        # buffers them.
        if self._head_pending() and self._head_too_large(data):
            if not self.transport.is_closing():
                self.transport.write(_INVALID_RESPONSE)
                self.transport.close()
            return
        super().data_received(data)
        self._check()

    def _head_too_large(self, data: bytes) -> bool:
        """Count the bytes of `data` up to the blank line that ends a request's head."""
        seen = self._head_tail + data
        end = _HEAD_END.search(seen)
        self._head_bytes += max(0, end.end() - len(self._head_tail)) if end else len(data)
        self._head_tail = data[-3:]  # a blank line split across two reads is still found
        return self._head_bytes > self.max_header_bytes

    def on_response_complete(self) -> None:
        """Arm the deadline for the next request (both uvicorn protocols call this)."""
        previous = self.cycle
        super().on_response_complete()  # type: ignore[misc]  # pylint: disable=no-member
        if not self.transport.is_closing():
            self._arm(previous)
            self._check()  # a pipelined request may already be in

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self, awaited: Any) -> None:
        self._disarm()
        self._head_bytes, self._head_tail = 0, b""
        self._awaited = awaited
        self._deadline = asyncio.get_running_loop().call_later(self.read_timeout, self._expire)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _head_pending(self) -> bool:
        """Whether the next request's line and headers have not all arrived yet."""
        return self.cycle is None or self.cycle is self._awaited

    def _check(self) -> None:
        cycle = self.cycle
        if cycle is not None and cycle is not self._awaited and not cycle.more_body:
            self._disarm()

    def _expire(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        cycle = self.cycle
        if cycle is None or cycle is self._awaited or not cycle.response_started:
            self.transport.write(_TIMEOUT_RESPONSE)
        self.transport.close()


class JsonBadRequest(asyncio.Protocol):
    """Mixin for a uvicorn HTTP protocol: a request it cannot parse gets the JSON 400.

    (uvicorn's own answer is plain text.) Both uvicorn protocols answer an unparsable request
    through `send_400_response` and close the connection; so does this.
    """

    transport: asyncio.Transport

    def send_400_response(self, msg: str) -> None:  # pylint: disable=unused-argument
        """Answer 400 in the one error schema and close."""
        self.transport.write(_INVALID_RESPONSE)
        self.transport.close()


class H11WithDeadline(RequestDeadline, JsonBadRequest, H11Protocol):
    """uvicorn's h11 protocol with a request deadline."""


def _protocol(read_timeout: float, max_header_bytes: int) -> type[asyncio.Protocol]:
    base: type[asyncio.Protocol] = H11WithDeadline
    try:
        # pylint: disable=import-outside-toplevel  # optional speed-up, as uvicorn's "auto"
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

        class HttpToolsWithDeadline(RequestDeadline, JsonBadRequest, HttpToolsProtocol):
            """uvicorn's httptools protocol with a request deadline."""

        base = HttpToolsWithDeadline
    except ImportError:  # httptools not installed: h11, as uvicorn would pick
        pass
    limits = {"read_timeout": read_timeout, "max_header_bytes": max_header_bytes}
    return type(base.__name__, (base,), limits)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port, or AddressInUse naming them."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            raise AddressInUse(
                f"{host}:{port} is already in use by another process; stop it or choose "
                "another port (MLSHIP_PORT or --port)"
            ) from None
        raise ParamsError(
            f"MLSHIP_HOST/MLSHIP_PORT: cannot listen on {host}:{port}: {error.strerror}"
        ) from None
    sock.set_inheritable(True)
    return sock


def server_config(app: Any, settings: ServeSettings, log_level: str) -> uvicorn.Config:
    """uvicorn's configuration with the service's limits."""
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=log_level,
        access_log=False,
        http=_protocol(settings.read_timeout, settings.max_header_bytes),
        timeout_keep_alive=settings.keep_alive_timeout,
        limit_concurrency=settings.max_connections,
        h11_max_incomplete_event_size=settings.max_header_bytes,
    )


def run_server(app: Any, settings: ServeSettings, log_level: str) -> None:
    """Bind first (a taken port is one clear error), then serve until stopped."""
    sock = bind(settings.host, settings.port)
    server = uvicorn.Server(server_config(app, settings, log_level))
    # uvicorn names the address only when it binds the socket itself: say it as uvicorn would.
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    logging.getLogger("uvicorn.error").info(
        "Uvicorn running on http://%s:%d (Press CTRL+C to quit)", host, settings.port
    )
    with sock:
        server.run(sockets=[sock])
