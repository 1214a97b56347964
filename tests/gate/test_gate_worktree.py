"""End to end: a real git repository, `mlship baseline` in a worktree with DVC, then the gate."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import REPO, project_params
from mlship.gate import baseline, smoke
from mlship.gate import cli as gate_cli
from mlship.config import parse_params
from mlship.report import cli as report_cli

# 600 held-out rows: the weak model loses about 0.1 AUC to the good one.
WEAK = {"learning_rate": 0.02, "max_iter": 10, "max_leaf_nodes": 4}

# A whole pipeline run for real: handed to a worker first (tests/conftest.py).
pytestmark = pytest.mark.heavy
GOOD = {"learning_rate": 0.05, "max_iter": 100, "max_leaf_nodes": 8}
COPIED = [
    "params.yaml",
    "dvc.yaml",
    "schema.yaml",
    "requirements.txt",
    ".dvc/config",
    ".dvc/.gitignore",
    ".gitignore",
]


def _git(repo: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


def _write_params(repo: Path, hyperparams: dict[str, Any]) -> None:
    raw = project_params({"train": {"hyperparams": hyperparams}})
    (repo / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")


def _commit(repo: Path, message: str) -> None:
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", message)


def _new_repo(root: Path) -> Path:
    repo = root / "repo"
    repo.mkdir()
    for name in COPIED:
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / name, repo / name)
    shutil.copytree(
        REPO / "src", repo / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
    )
    _git(repo, "init", "-q", "-b", "main")
    _write_params(repo, WEAK)
    # data.dvc pins the small example, as `dvc add data` records it; data/ is not committed.
    dvc = Path(sys.executable).parent / "dvc"
    subprocess.run([sys.executable, "-m", "mlship.stages.data", "--example"], cwd=repo, check=True)
    subprocess.run([str(dvc), "add", "--quiet", "data"], cwd=repo, check=True)
    shutil.rmtree(repo / "data")
    _commit(repo, "main: weak model")
    return repo


def _pr_cycle(repo: Path) -> tuple[int, dict[str, Any]]:
    params = parse_params(yaml.safe_load((repo / "params.yaml").read_text(encoding="utf-8")))
    smoke.run(params)
    baseline.run(params, "main")
    code = gate_cli.main([])
    gate = json.loads((repo / "reports/gate/gate.json").read_text(encoding="utf-8"))
    return code, gate


def test_gate_passes_an_improving_pr_and_fails_a_degrading_one_against_rebuilt_main(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = _new_repo(tmp_path)
    monkeypatch.chdir(repo)
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("DVC_NO_ANALYTICS", "1")

    _git(repo, "checkout", "-q", "-b", "improve")
    _write_params(repo, GOOD)
    _commit(repo, "better hyper-parameters")
    code, gate = _pr_cycle(repo)
    assert code == 0
    assert gate["verdict"] == "pass" and gate["mode"] == "compared"
    auc = next(m for m in gate["metrics"] if m["name"] == "roc_auc")
    assert auc["delta"] > 0.05 and auc["low"] > 0

    _git(repo, "checkout", "-q", "main")
    _git(repo, "merge", "-q", "--ff-only", "improve")
    _git(repo, "checkout", "-q", "-b", "degrade")
    _write_params(repo, WEAK)
    _commit(repo, "cheaper model")
    capsys.readouterr()
    code, gate = _pr_cycle(repo)
    err = capsys.readouterr().err
    assert code == 5
    assert gate["verdict"] == "fail"
    line = next(line for line in err.splitlines() if "roc_auc: fail" in line)
    for word in (
        "baseline 0.",
        "candidate 0.",
        "delta -0.",
        "95% CI [-0.",
        "threshold: drop at most",
    ):
        assert word in line

    report_cli.main([])
    report = (repo / "reports/pr/report.md").read_text(encoding="utf-8")
    assert "Metric gate: fail" in report
    assert "train.hyperparams.max_iter" in report
    assert (repo / "reports/pr/plots/main_roc.png").is_file()
