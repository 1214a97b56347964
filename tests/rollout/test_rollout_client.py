"""The rollout controller's HTTP client: reads retry within a bound, writes are sent once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from mlship.errors import RolloutError
from mlship.rollout.client import ServiceClient


class _Flaky(BaseHTTPRequestHandler):
    """Answers 503 to the first `failures` requests, then 200; counts what it got."""

    failures = 0
    seen: list[str] = []

    def _answer(self) -> None:
        self.seen.append(self.command)
        status = 503 if len(self.seen) <= self.failures else 200
        body = b'{"detail": "restarting"}' if status == 503 else b'{"champion": null}'
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *_: object) -> None:
        """Quiet."""


@pytest.fixture(name="flaky")
def _flaky() -> Iterator[tuple[str, type[_Flaky]]]:
    handler = type("Handler", (_Flaky,), {"seen": [], "failures": 0})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()


def test_a_read_retries_a_transient_503_and_succeeds(flaky: tuple[str, type[_Flaky]]) -> None:
    url, handler = flaky
    handler.failures = 2
    client = ServiceClient(url, "token", retries=2, backoff=0.01)
    assert client.model() == {"champion": None}
    assert handler.seen == ["GET", "GET", "GET"]


def test_a_read_gives_up_after_its_retries(flaky: tuple[str, type[_Flaky]]) -> None:
    url, handler = flaky
    handler.failures = 10
    client = ServiceClient(url, "token", retries=2, backoff=0.01)
    with pytest.raises(RolloutError, match="HTTP 503"):
        client.model()
    assert handler.seen == ["GET"] * 3


def test_a_write_is_never_repeated(flaky: tuple[str, type[_Flaky]]) -> None:
    url, handler = flaky
    handler.failures = 1
    client = ServiceClient(url, "token", retries=2, backoff=0.01)
    with pytest.raises(RolloutError, match="HTTP 503"):
        client.reload()
    assert handler.seen == ["POST"]


def test_an_unreachable_service_is_retried_then_one_error() -> None:
    client = ServiceClient("http://127.0.0.1:9", "token", retries=2, backoff=0.01)
    with pytest.raises(RolloutError, match="GET http://127.0.0.1:9/model"):
        client.model()
