"""Server-side limits of `mlship serve`: slow clients closed, requests bounded, ports named."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import httpx
import pytest
import uvicorn
from live_process import free_port
from serving_helpers import live_service

from mlship.config import Params
from mlship.errors import ExitCode
from mlship.serving import server


@pytest.fixture(name="model_dir")
def _model_dir(trained_project: tuple[Path, Params]) -> Path:
    root, params = trained_project
    return root / params.paths.model_dir


def test_a_port_in_use_is_its_own_error_and_exit_code(
    model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = server.main(["--port", str(port), "--champion", str(model_dir)])
    assert code == ExitCode.ADDRESS_IN_USE == 12
    assert capsys.readouterr().err.strip().splitlines() == [
        f"mlship serve: error: 127.0.0.1:{port} is already in use by another process; stop it "
        "or choose another port (MLSHIP_PORT or --port)"
    ]


def test_serve_names_the_address_it_listens_on(
    model_dir: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # uvicorn says nothing of a socket bound for it; a newcomer needs the URL to call.
    monkeypatch.setattr(uvicorn.Server, "run", lambda self, sockets=None: None)
    port = free_port()
    assert server.main(["--port", str(port), "--champion", str(model_dir)]) == 0
    said = capfd.readouterr().err
    assert f"Uvicorn running on http://127.0.0.1:{port} (Press CTRL+C to quit)" in said


def test_canary_traffic_without_a_challenger_names_the_settings_to_change(
    model_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLSHIP_TRAFFIC", "canary")
    assert server.main(["--champion", str(model_dir)]) == ExitCode.PARAMS
    assert capsys.readouterr().err.strip().splitlines() == [
        "mlship serve: error: MLSHIP_TRAFFIC=canary needs a challenger: set MLSHIP_CHALLENGER "
        "(or MLSHIP_TRAFFIC=champion)"
    ]


def test_a_connection_backstop_below_the_request_bound_names_both_settings(
    model_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLSHIP_MAX_REQUESTS", "500")
    monkeypatch.setenv("MLSHIP_MAX_CONNECTIONS", "100")
    assert server.main(["--champion", str(model_dir)]) == ExitCode.PARAMS
    assert capsys.readouterr().err.strip().splitlines() == [
        "mlship serve: error: MLSHIP_MAX_CONNECTIONS=100 is below MLSHIP_MAX_REQUESTS=500: "
        "uvicorn's connection limit is the backstop and must be at least the request bound"
    ]


def _closed_within(sock: socket.socket, seconds: float) -> bytes:
    """Everything the server sent until it closed the connection (fails if it never does)."""
    sock.settimeout(seconds)
    received = b""
    while True:
        try:
            chunk = sock.recv(4096)
        except TimeoutError:
            pytest.fail(f"connection still open after {seconds}s; got {received!r}")
        if not chunk:
            return received
        received += chunk


def test_idle_slow_and_malformed_clients_are_closed_and_the_service_lives_on(
    model_dir: Path, tmp_path: Path
) -> None:
    env = {
        "MLSHIP_CHAMPION": str(model_dir),
        "MLSHIP_READ_TIMEOUT": "1",
        "MLSHIP_KEEP_ALIVE_TIMEOUT": "5",  # longer: the read deadline is what closes these
    }
    with live_service(env, tmp_path) as url:
        port = int(url.rsplit(":", 1)[1])
        request = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
        sends = {
            "idle": b"",
            "partial headers": b"GET /health HTTP/1.1\r\nHost: x\r\n",
            "short body": b"POST /predict HTTP/1.1\r\nHost: x\r\n"
            b'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"age"',
            "partial second request": request + b"GET /health HTTP/1.1\r\nHo",
        }
        clients = {}
        started = time.monotonic()
        for name, data in sends.items():
            sock = socket.create_connection(("127.0.0.1", port))
            sock.sendall(data)
            clients[name] = sock
        for name, sock in clients.items():
            with sock:
                answer = _closed_within(sock, 10)
            if name != "idle":
                assert b"408 Request Timeout" in answer, (name, answer)
        assert time.monotonic() - started < 10
        # A trickle of header bytes does not extend the deadline.
        with socket.create_connection(("127.0.0.1", port)) as sock:
            began = time.monotonic()
            try:
                for byte in b"GET /health HTTP/1.1\r\nHost: x\r\n":
                    sock.sendall(bytes([byte]))
                    time.sleep(0.2)
            except OSError:
                pass  # closed while trickling: what the deadline is for
            _closed_within(sock, 10)
            assert time.monotonic() - began < 5
        # A request that cannot be parsed, or whose headers pass MLSHIP_MAX_HEADER_BYTES (16 KiB
        # by default) gets the JSON 400, whichever HTTP parser uvicorn runs.
        huge_header = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n"
        for data in (b"NOT HTTP AT ALL\r\n\r\n", huge_header):
            with socket.create_connection(("127.0.0.1", port)) as sock:
                try:
                    sock.sendall(data)
                except OSError:
                    pass  # closed while sending: the answer was already written
                answer = _closed_within(sock, 10)
            head, _, body = answer.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 400 "), answer[:300]
            assert b"content-type: application/json" in head
            assert json.loads(body) == {
                "detail": "invalid HTTP request (malformed, or headers beyond "
                "MLSHIP_MAX_HEADER_BYTES)"
            }
        # A whole request is answered, however long the app takes after it arrived.
        assert httpx.get(f"{url}/health").status_code == 200
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(request)
            assert b"200 OK" in sock.recv(4096)


def test_requests_beyond_the_bound_get_a_json_503_with_retry_after(
    model_dir: Path, tmp_path: Path
) -> None:
    env = {
        "MLSHIP_CHAMPION": str(model_dir),
        "MLSHIP_MAX_REQUESTS": "2",
        "MLSHIP_READ_TIMEOUT": "60",  # the held requests stay in progress for the whole test
    }
    with live_service(env, tmp_path) as url:
        port = int(url.rsplit(":", 1)[1])
        row = httpx.get(f"{url}/model").json()["champion"]["features"]
        # Two requests whose bodies never finish arriving hold both places in the bound.
        held = []
        for _ in range(2):
            sock = socket.create_connection(("127.0.0.1", port))
            sock.sendall(
                b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b'Content-Length: 100\r\n\r\n{"age"'
            )
            held.append(sock)
        try:
            deadline = time.monotonic() + 10
            while True:
                refused = httpx.post(f"{url}/predict", json=dict.fromkeys(row))
                if refused.status_code == 503 or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            assert refused.status_code == 503, refused.text
            assert refused.headers["content-type"] == "application/json"
            assert refused.headers["retry-after"] == "1"
            assert refused.json() == {
                "detail": "more than 2 requests in progress (MLSHIP_MAX_REQUESTS); "
                "retry after 1 s"
            }
            # Liveness and the scrape answer whatever the load, and count the refusals.
            assert httpx.get(f"{url}/health").status_code == 200
            metrics = httpx.get(f"{url}/metrics").text
            assert 'mlship_http_requests_total{method="POST",path="unmatched",status="503"}' in (
                metrics
            ), metrics
        finally:
            for sock in held:
                sock.close()
        # The places free up once the held requests end.
        deadline = time.monotonic() + 10
        while httpx.get(f"{url}/ready").status_code != 200:
            assert time.monotonic() < deadline, "the bound never freed its places"
            time.sleep(0.1)
