"""The project's Dockerfile builds an image that serves the baked-in model as in development.

System tier: builds the real Dockerfile with the container engine (docker on GitHub, podman
with the stand-in base image here; the first build downloads the serving dependencies, about 2
minutes, later builds reuse that layer) and runs the image on loopback.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import container_engine
import pytest
from path_import import import_file

from mlship.config import Params

REPO = Path(__file__).resolve().parents[2]
TAG = "localhost/mlship-serve:test"
image_smoke = import_file("mlship_image_smoke", REPO / "tools" / "image_smoke.py")
bench_image = import_file("mlship_bench_image", REPO / "benchmarks" / "bench_image.py")

pytestmark = pytest.mark.system


@pytest.fixture(scope="module")
def image(trained_project: tuple[Path, Params], tmp_path_factory: pytest.TempPathFactory) -> str:
    """The serving image built from the repository's Dockerfile with the fixture's model."""
    root, params = trained_project
    try:
        container_engine.build_serving_image(
            TAG, root / params.paths.model_dir, tmp_path_factory.mktemp("image")
        )
    except container_engine.ContainerError as exc:
        pytest.fail(f"could not build {TAG}: {exc}", pytrace=False)
    # The image stays: its layers are the build cache of the next run and of `make image`.
    return TAG


@pytest.fixture()
def running(image: str) -> Iterator[tuple[str, str]]:
    """A container of the image on a free loopback port: (name, base URL)."""
    engine = container_engine.engine()
    with container_engine.running_container(image, prefix="mlship-image-test") as (name, base):
        try:
            image_smoke.wait_ready(
                base, time.monotonic() + 90, lambda: image_smoke.running(engine, name)
            )
        except image_smoke.SmokeFailed as error:
            logs = container_engine.run("logs", "--tail", "30", name, check=False)
            pytest.fail(f"{error}\n{logs.stdout}{logs.stderr}", pytrace=False)
        yield name, base


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


def test_image_runs_as_non_root_and_reports_healthy(image: str, running: tuple[str, str]) -> None:
    name, _ = running
    user = container_engine.run("exec", name, "id", "-u", check=False)
    assert user.stdout.strip() == "10001", user.stderr
    health = container_engine.run_healthcheck(name, image)
    assert health.returncode == 0, health.stdout + health.stderr


def test_image_smoke_script_passes_on_the_built_image(
    image: str, trained_project: tuple[Path, Params], capsys: pytest.CaptureFixture[str]
) -> None:
    root, params = trained_project
    code = image_smoke.main(
        [
            "--container",
            container_engine.engine(),
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


def test_image_benchmark_prints_the_size_breakdown_and_a_start_up(
    image: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = bench_image.main(
        ["--container", container_engine.engine(), "--image", image, "--runs", "1"]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.startswith(f"image {image}: ") and " MB\n" in out
    assert "scipy" in out and "start-up 1: ready after " in out
