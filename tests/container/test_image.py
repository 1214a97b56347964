"""The project's Dockerfile builds an image that serves the baked-in model as in development.

Slow: builds the real Dockerfile with podman (the first build downloads the serving
dependencies, about 2 minutes; later builds reuse that layer) and runs the image on loopback.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess  # nosec B404
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest

from mlship.config import Params

REPO = Path(__file__).resolve().parents[2]
CONTEXT_FILES = ("Dockerfile", ".dockerignore", "requirements.txt", "pyproject.toml", "README.md")
TAG = "localhost/mlship-serve:test"


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


podman_env = _load("mlship_podman_env", Path(__file__).with_name("podman_env.py"))
image_smoke = _load("mlship_image_smoke", REPO / "tools" / "image_smoke.py")


def _podman(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # nosec B603
        ["podman", *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def build_context(target: Path, model_dir: Path) -> Path:
    """What `make image` sends from the repository, with `model_dir` as artifacts/model."""
    for name in CONTEXT_FILES:
        if (REPO / name).exists():
            shutil.copy2(REPO / name, target / name)
    shutil.copytree(
        REPO / "src", target / "src", ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
    )
    shutil.copytree(model_dir, target / "artifacts" / "model")
    return target


@pytest.fixture(scope="module")
def image(trained_project: tuple[Path, Params], tmp_path_factory: pytest.TempPathFactory) -> str:
    """The serving image built from the repository's Dockerfile with the fixture's model."""
    try:
        podman_env.ensure()
    except podman_env.PodmanEnvError as exc:
        pytest.fail(f"podman environment could not be set up: {exc}", pytrace=False)
    root, params = trained_project
    context = build_context(tmp_path_factory.mktemp("image"), root / params.paths.model_dir)
    proc = subprocess.run(  # nosec B603
        podman_env.build_args(TAG, context),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if proc.returncode != 0:
        pytest.fail(f"podman build failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-3000:]}")
    # The image stays: its layers are the build cache of the next run and of `make image`.
    return TAG


@pytest.fixture()
def running(image: str) -> Iterator[tuple[str, str]]:
    """A container of the image on a free loopback port: (name, base URL)."""
    port = image_smoke.free_port()
    name = f"mlship-image-test-{uuid.uuid4().hex[:8]}"
    start = _podman(
        "run", "-d", "--init", "--name", name, *podman_env.publish_args(port, 8000), image
    )
    assert start.returncode == 0, start.stderr
    base = f"http://127.0.0.1:{port}"
    try:
        image_smoke.wait_ready(
            base, time.monotonic() + 90, lambda: image_smoke.running("podman", name)
        )
        yield name, base
    except image_smoke.SmokeFailed as error:
        logs = _podman("logs", "--tail", "30", name)
        pytest.fail(f"{error}\n{logs.stdout}{logs.stderr}", pytrace=False)
    finally:
        _podman("rm", "-f", "-t", "2", name, timeout=60)


@pytest.mark.slow
def test_image_predicts_the_held_out_rows_exactly_like_the_pipeline(
    running: tuple[str, str], trained_project: tuple[Path, Params]
) -> None:
    _, base = running
    root, params = trained_project
    status, ready = image_smoke.http(f"{base}/ready")
    assert (status, ready["ready"]) == (200, True)
    held_out = pd.read_parquet(root / params.paths.split_dir / "test.parquet").head(200)
    expected = pd.read_csv(root / params.paths.eval_dir / "predictions.csv").head(200)
    records = json.loads(held_out[params.data.features].to_json(orient="records"))
    status, body = image_smoke.http(f"{base}/predict", {"records": records})
    assert status == 200, body
    served = np.array([item["probability"] for item in body["predictions"]])
    assert held_out["__id__"].astype(str).tolist() == expected["id"].astype(str).tolist()
    np.testing.assert_allclose(served, expected["score"].to_numpy(), rtol=0, atol=1e-12)


@pytest.mark.slow
def test_image_runs_as_non_root_and_reports_healthy(running: tuple[str, str]) -> None:
    name, _ = running
    user = _podman("exec", name, "id", "-u")
    assert user.stdout.strip() == "10001", user.stderr
    health = _podman("healthcheck", "run", name)
    assert health.returncode == 0, health.stdout + health.stderr


@pytest.mark.slow
def test_image_smoke_script_passes_on_the_built_image(
    image: str, trained_project: tuple[Path, Params], capsys: pytest.CaptureFixture[str]
) -> None:
    root, params = trained_project
    code = image_smoke.main(
        [
            "--container",
            "podman",
            "--image",
            image,
            "--model-dir",
            str(root / params.paths.model_dir),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "invalid input: 422" in out
    assert f"image-smoke: {image} passed" in out
