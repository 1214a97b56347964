"""Run a server as a subprocess on a free loopback port for a test, and always stop it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx
import tiers


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ExitedEarly(AssertionError):
    """The server exited before it was ready; `returncode` is its exit status."""

    def __init__(self, message: str, returncode: int) -> None:
        super().__init__(message)
        self.returncode = returncode


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise ExitedEarly(
                f"{url}: server exited early:\n{log.read_text(errors='replace')}",
                process.returncode,
            )
        try:
            if httpx.get(url, timeout=2.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{url}: not ready after {timeout:.0f} s:\n{log.read_text(errors='replace')}"
            )
        time.sleep(0.3)


@contextmanager
def live_process(
    command: Sequence[str],
    *,
    ready_url: str,
    log: Path,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = 120.0,
) -> Iterator[subprocess.Popen[bytes]]:
    """Start `command`, wait until `ready_url` answers 200, yield; terminate (then kill) after."""
    with log.open("wb") as out:
        process = subprocess.Popen(  # pylint: disable=consider-using-with
            list(command),
            cwd=cwd,
            env=None if env is None else dict(env),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_ready(ready_url, process, log, timeout)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@contextmanager
def mlflow_server(backend_uri: str, workdir: Path) -> Iterator[str]:
    """Run `mlflow server` on a free loopback port with this backend; yield its URL."""
    tiers.require_system("an MLflow server")
    port = free_port()
    artifacts = workdir / "server-artifacts"
    artifacts.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--backend-store-uri",
        backend_uri,
        "--artifacts-destination",
        str(artifacts),
    ]
    log = workdir / f"mlflow-server-{port}.log"
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    url = f"http://127.0.0.1:{port}"
    with live_process(command, ready_url=f"{url}/health", log=log, cwd=workdir, env=env):
        yield url
