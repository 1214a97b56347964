"""uvicorn with server-side limits: a deadline to receive each request, keep-alive, a cap.

uvicorn (0.54) has no timeout while a request arrives: its keep-alive timer runs only between
requests and is cancelled by any byte received, so a client sending partial headers, or a body
shorter than its Content-Length, holds a connection forever. `RequestDeadline` closes a
connection whose next request has not fully arrived (headers and body) within
`MLSHIP_READ_TIMEOUT` seconds of the connection opening or of the previous answer.
"""

from __future__ import annotations

import asyncio
import errno
import socket
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from mlship.errors import AddressInUse, ParamsError
from mlship.serving.settings import ServeSettings

_TIMEOUT_BODY = b'{"detail":"request not received in time"}'
_TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
    b"connection: close\r\ncontent-length: %d\r\n\r\n%s" % (len(_TIMEOUT_BODY), _TIMEOUT_BODY)
)


class RequestDeadline(asyncio.Protocol):
    """Mixin for a uvicorn HTTP protocol: a deadline on receiving each whole request.

    The deadline is armed when the connection opens and after each answer, and disarmed once a
    new request's headers and body are in (the app's own time is not limited). Both uvicorn
    protocols keep the request in progress in `self.cycle` and flag its end with `more_body`.
    """

    read_timeout: float = 10.0
    cycle: Any
    transport: asyncio.Transport
    _deadline: asyncio.TimerHandle | None = None
    _awaited: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._arm(None)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._check()

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
        self._awaited = awaited
        self._deadline = asyncio.get_running_loop().call_later(self.read_timeout, self._expire)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

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


class H11WithDeadline(RequestDeadline, H11Protocol):
    """uvicorn's h11 protocol with a request deadline."""


def _protocol(read_timeout: float) -> type[asyncio.Protocol]:
    base: type[asyncio.Protocol] = H11WithDeadline
    try:
        # pylint: disable=import-outside-toplevel  # optional speed-up, as uvicorn's "auto"
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

        class HttpToolsWithDeadline(RequestDeadline, HttpToolsProtocol):
            """uvicorn's httptools protocol with a request deadline."""

        base = HttpToolsWithDeadline
    except ImportError:  # httptools not installed: h11, as uvicorn would pick
        pass
    return type(base.__name__, (base,), {"read_timeout": read_timeout})


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
        http=_protocol(settings.read_timeout),
        timeout_keep_alive=settings.keep_alive_timeout,
        limit_concurrency=settings.max_connections,
        h11_max_incomplete_event_size=settings.max_header_bytes,
    )


def run_server(app: Any, settings: ServeSettings, log_level: str) -> None:
    """Bind first (a taken port is one clear error), then serve until stopped."""
    sock = bind(settings.host, settings.port)
    server = uvicorn.Server(server_config(app, settings, log_level))
    server.run(sockets=[sock])
