"""The pipeline benchmark runs end to end on a tiny dataset and prints its table."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from e2e_repo import REPO, run, tool_env

pytestmark = pytest.mark.slow


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
