"""The offline container tooling builds and runs a Dockerfile FROM python:3.11-slim-bookworm.

Slow: from a bare machine `ensure` installs podman and builds the stand-in base image (about a
minute and a half); after that a build takes seconds. Nothing is skipped: when podman cannot be
set up the test fails and says why.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator

import podman_env
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
    try:
        podman_env.build(tag, context, timeout=600)  # the build's output is in the test's log
    except podman_env.PodmanEnvError as exc:
        pytest.fail(f"podman could not build {tag}: {exc}", pytrace=False)
    yield tag
    podman_env.podman("rmi", "-f", tag, capture=True, check=False, timeout=600)


@pytest.mark.slow
def test_standin_is_the_local_python_image(ready: None) -> None:
    proc = podman_env.podman(
        "run", "--rm", "--pull=never", "python:3.11-slim-bookworm", "python", "-c",
        "import sys, shutil; print(sys.version_info[:2], shutil.which('pip'))",
        capture=True, check=False, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "(3, 11) /usr/local/bin/pip"


@pytest.mark.slow
def test_build_pip_install_and_run_as_non_root(image: str) -> None:
    proc = podman_env.podman("run", "--rm", image, capture=True, check=False, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"six={SIX_VERSION} uid=10001 user=app"


@pytest.mark.slow
def test_published_port_answers_on_loopback(image: str) -> None:
    command = ("python", "-m", "http.server", "8000")
    with podman_env.running_container(image, *command, prefix="mlship-selftest") as (_, base):
        body = _get(f"{base}/index.txt", time.monotonic() + 30)
    assert body.strip() == "served-by-container"
