"""The benchmarks run end to end on small inputs and print their figures."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from e2e_repo import REPO, run, tool_env

from mlship.config import Params

# A whole pipeline run for real: handed to a worker first (tests/conftest.py).
pytestmark = pytest.mark.heavy


def test_pipeline_benchmark_prints_seconds_and_peak_memory_per_stage(tmp_path: Path) -> None:
    env = tool_env(REPO)
    del env["PYTHONPATH"]
    output = run(
        [
            sys.executable,
            "benchmarks/bench_pipeline.py",
            "--rows",
            "2000",
            "--workdir",
            str(tmp_path),
        ],
        REPO,
        env,
    ).stdout
    header, rule, row = output.strip().splitlines()[-3:]
    assert [cell.strip() for cell in header.split("|")] == [
        "rows",
        "generate s",
        "validate s",
        "split s",
        "train s",
        "evaluate s",
        "total s",
        "cpu s",
        "peak RSS MB",
    ]
    assert set(rule) <= {"-", " ", "|"}
    cells = [cell.strip() for cell in row.split("|")]
    assert cells[0] == "2,000"
    assert all(float(cell) >= 0 for cell in cells[1:])
    assert float(cells[-1]) > 50  # a Python process with pandas and scikit-learn loaded


@pytest.mark.system  # starts `mlflow models serve`, an MLflow server, beside mlship's
def test_serving_benchmark_measures_every_server_and_scenario(
    trained_project: tuple[Path, Params], tmp_path: Path
) -> None:
    root, params = trained_project
    figures = tmp_path / "serve.json"
    env = tool_env(REPO)
    del env["PYTHONPATH"]
    output = run(
        [
            sys.executable,
            "benchmarks/bench_serve.py",
            "--quick",
            "--model-dir",
            str(root / params.paths.model_dir),
            "--holdout",
            str(root / params.paths.split_dir / "test.parquet"),
            "--out",
            str(figures),
        ],
        REPO,
        env,
    ).stdout
    assert "c=64 throughput mlship / mlflow" in output
    results = json.loads(figures.read_text(encoding="utf-8"))
    expected = {
        "mlship": {"c=1", "c=16", "c=64", "batch=1000"},
        "bare": {"c=1"},
        "mlflow": {"c=1", "c=16", "c=64", "batch=1000"},
    }
    assert {name: set(scenarios) for name, scenarios in results.items()} == expected
    for scenarios in results.values():
        for scenario in scenarios.values():
            assert scenario["requests"] > 0 and scenario["errors"] == 0
