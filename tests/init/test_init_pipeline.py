"""The whole matrix, as a user runs it: `mlship init`, commit, `make pipeline`, `dvc plots show`,
`make baseline gate report` in a copy of this repository (system tier: minutes per case)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from init_datasets import DATASETS
from path_import import import_file

e2e_repo = import_file("e2e_repo", Path(__file__).resolve().parents[1] / "e2e" / "e2e_repo.py")
copy_repo, run = e2e_repo.copy_repo, e2e_repo.run

VENV = Path(sys.executable).parent.parent
CASES = [f"{name}.{suffix}" for name in DATASETS for suffix in ("csv", "parquet")]


@pytest.mark.system
@pytest.mark.parametrize("case", CASES)
def test_init_then_make_pipeline_gate_and_report_run_with_no_edit(
    case: str, tmp_path: Path
) -> None:
    name, suffix = case.split(".")
    dataset = DATASETS[name]
    source = dataset.write(tmp_path / f"{name}.{suffix}")
    root = copy_repo(tmp_path / "repo")
    # --assume-old: the copy must not reinstall (and so re-point) the shared editable install.
    make = ["make", "--no-print-directory", f"VENV={VENV}", f"--assume-old={VENV}/.installed"]
    said = run(["mlship", "init", str(source), "--target", dataset.target, *dataset.options], root)
    assert f"task: {dataset.task}" in said.stdout
    run(["git", "add", "-A"], root)
    run(["git", "commit", "-qm", "mlship init"], root)

    pipeline = run([*make, "pipeline"], root, timeout=1200)
    assert "Creating initial MLflow database tables" not in pipeline.stdout + pipeline.stderr
    plots = run([str(VENV / "bin" / "dvc"), "plots", "show"], root)
    assert "index.html" in plots.stdout
    assert "dvc_plots" not in run(["git", "status", "--porcelain"], root).stdout

    run([*make, "baseline", "gate", "report"], root, timeout=1200)
    gate = json.loads((root / "reports/gate/gate.json").read_text(encoding="utf-8"))
    assert gate["verdict"] == "pass"
    assert (root / "reports/pr/report.md").is_file()
