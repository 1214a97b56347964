"""The offline container tooling builds and runs a Dockerfile FROM python:3.11-slim-bookworm.

Slow: from a bare machine `ensure` installs podman and builds the stand-in base image (about a
minute and a half); after that a build takes seconds. Nothing is skipped: when podman cannot be
set up the test fails and says why.
"""

from __future__ import annotations

import importlib.util
import socket
import subprocess  # nosec B404
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

SIX_VERSION = "1.16.0"
DOCKERFILE = f"""\
FROM python:3.11-slim-bookworm
RUN pip install --no-cache-dir six=={SIX_VERSION} \\
 && useradd --create-home --uid 10001 app
USER app
WORKDIR /home/app
RUN echo served-by-container > index.txt
CMD ["python", "-c", "import getpass, os, six; \\
print(f'six={{six.__version__}} uid={{os.getuid()}} user={{getpass.getuser()}}')"]
"""


def _load_podman_env() -> ModuleType:
    path = Path(__file__).with_name("podman_env.py")
    spec = importlib.util.spec_from_file_location("mlship_podman_env", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


podman_env = _load_podman_env()


def _podman(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # nosec B603
        ["podman", *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str, deadline: float) -> str:
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # nosec B310
                return str(response.read().decode())
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            last = exc
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer in time: {last}")


@pytest.fixture(scope="module")
def ready() -> None:
    try:
        podman_env.ensure()
    except podman_env.PodmanEnvError as exc:
        pytest.fail(f"podman environment could not be set up: {exc}", pytrace=False)


@pytest.fixture(scope="module")
def image(ready: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    context = tmp_path_factory.mktemp("context")
    tag = f"localhost/mlship-podman-selftest:{uuid.uuid4().hex[:12]}"
    (context / "Dockerfile").write_text(DOCKERFILE, encoding="utf-8")
    proc = subprocess.run(  # nosec B603
        podman_env.build_args(tag, context),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if proc.returncode != 0:
        pytest.fail(f"podman build failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    yield tag
    _podman("rmi", "-f", tag)


@pytest.mark.slow
def test_standin_is_the_local_python_image(ready: None) -> None:
    proc = _podman(
        "run", "--rm", "--pull=never", "python:3.11-slim-bookworm", "python", "-c",
        "import sys, shutil; print(sys.version_info[:2], shutil.which('pip'))",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "(3, 11) /usr/local/bin/pip"


@pytest.mark.slow
def test_build_pip_install_and_run_as_non_root(image: str) -> None:
    proc = _podman("run", "--rm", image, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"six={SIX_VERSION} uid=10001 user=app"


@pytest.mark.slow
def test_published_port_answers_on_loopback(image: str) -> None:
    port = _free_port()
    name = f"mlship-selftest-{uuid.uuid4().hex[:8]}"
    start = _podman(
        "run", "-d", "--rm", "--init", "--name", name,
        *podman_env.publish_args(port, 8000),
        image, "python", "-m", "http.server", "8000",
    )  # fmt: skip
    assert start.returncode == 0, start.stderr
    try:
        body = _get(f"http://127.0.0.1:{port}/index.txt", time.monotonic() + 30)
        assert body.strip() == "served-by-container"
    finally:
        _podman("rm", "-f", "-t", "2", name, timeout=60)
