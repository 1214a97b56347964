"""The container engine the system tier builds and runs images with, as it finds it.

docker where its daemon answers (GitHub's hosted runners: the real python:3.11-slim-bookworm
is pulled), else podman with the stand-in base image `make system-deps` builds on machines that
cannot pull it (these ones); MLSHIP_CONTAINER=docker|podman chooses explicitly. The choice is
tools/system_deps.py's, so the set-up and the tests agree. Nothing here installs or writes
outside the test's own files: what is missing fails the test, naming `make system-deps`.

Containers publish their port on loopback only (see `running_container`).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil

# subprocess is used with fixed argument lists only, never through a shell.
import subprocess  # nosec B404
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import tiers
from live_process import free_port
from path_import import import_file

REPO = Path(__file__).resolve().parents[2]
system_deps = import_file("mlship_system_deps", REPO / "tools" / "system_deps.py")
BASE_IMAGE = "python:3.11-slim-bookworm"
# What `make image` sends from the repository (plus src/ and the model).
CONTEXT_FILES = (
    "Dockerfile",
    ".dockerignore",
    "requirements/serve.txt",
    "requirements/serve-databricks.txt",
    "pyproject.toml",
    "README.md",
)


class ContainerError(AssertionError):
    """The engine is missing, not ready, or a command failed; the message says which."""


def engine() -> str:
    """`docker` or `podman`, ready to build FROM python:3.11-slim-bookworm; else fail."""
    tiers.require_system("a container engine")
    return _detected()


@functools.cache
def _detected() -> str:
    try:
        name: str = system_deps.container_engine()
        missing: list[str] = system_deps.podman_missing() if name == "podman" else []
    except system_deps.SystemDepsError as exc:
        raise ContainerError(str(exc)) from exc
    if missing:
        raise ContainerError(
            f"podman is not set up for the system tier (missing: {'; '.join(missing)}): "
            f"run `{system_deps.MAKE_TARGET}` as root"
        )
    if name == "podman" and os.geteuid() != 0:
        raise ContainerError(
            "the podman stand-in image is rootful: run the system tier as root here (.ci/run does)"
        )
    return name


def run(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the engine with `args`, no stdin; raise ContainerError on a non-zero exit."""
    command = [engine(), *args]
    try:
        # An argument list, no shell.
        proc = subprocess.run(  # nosec B603
            command,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise ContainerError(f"`{' '.join(command)}` did not finish in {timeout:.0f} s") from exc
    if check and proc.returncode != 0:
        raise ContainerError(
            f"`{' '.join(command)}` exited {proc.returncode}: {proc.stderr.strip()[-3000:]}"
        )
    return proc


def build(tag: str, context: Path, extra: Sequence[str] = (), timeout: float = 900) -> None:
    """Build `context`/Dockerfile as `tag`; podman never pulls (its base is the stand-in)."""
    # podman's default OCI format drops HEALTHCHECK; docker's format keeps it.
    local = ["--pull=never", "--format=docker"] if engine() == "podman" else []
    run("build", *local, *extra, "-t", tag, str(context), timeout=timeout)


def build_context(target: Path, model_dir: Path) -> Path:
    """What `make image` sends from the repository, with `model_dir` as artifacts/model."""
    for name in CONTEXT_FILES:
        if (REPO / name).exists():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, target / name)
    shutil.copytree(
        REPO / "src", target / "src", ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
    )
    shutil.copytree(model_dir, target / "artifacts" / "model")
    return target


def build_serving_image(tag: str, model_dir: Path, workdir: Path) -> str:
    """The repository's Dockerfile built as `tag` with `model_dir` baked in; returns `tag`."""
    build(tag, build_context(workdir, model_dir), timeout=900)
    return tag


def image_id(tag: str) -> str:
    """The ID of the local image `tag`."""
    return run("image", "inspect", "--format", "{{.Id}}", tag).stdout.strip()


def remove_images(*tags: str) -> None:
    """Remove the local image tags (the image stays while another tag names it)."""
    if tags:
        run("rmi", *tags, check=False, timeout=600)


@contextlib.contextmanager
def running_container(
    image: str, *command: str, prefix: str, port: int = 8000
) -> Iterator[tuple[str, str]]:
    """Run `image` in the background with `port` on a free loopback port; remove it on exit.

    Yields the container's name and the base URL that reaches its port.
    """
    host_port = free_port()
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    publish = ["-p", f"127.0.0.1:{host_port}:{port}"]
    run("run", "-d", "--init", "--name", name, *publish, image, *command)
    try:
        yield name, f"http://127.0.0.1:{host_port}"
    finally:
        run("rm", "-f", name, check=False, timeout=60)


def run_healthcheck(name: str, image: str) -> subprocess.CompletedProcess[str]:
    """Run the image's HEALTHCHECK command in the container now, as the engine would."""
    declared = run("image", "inspect", "--format", "{{json .Config.Healthcheck}}", image)
    check = json.loads(declared.stdout or "null")
    if not check or not check.get("Test"):
        raise ContainerError(f"{image} declares no HEALTHCHECK")
    kind, *test = check["Test"]
    argv = ["sh", "-c", test[0]] if kind == "CMD-SHELL" else test
    return run("exec", name, *argv, check=False)
