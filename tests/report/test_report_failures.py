"""The report explains a red check: which step failed and its first error; gains say "improved"."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from mlship.gate import cli as gate_cli
from mlship.gate.smoke import SMOKE_ERROR, first_error
from mlship.report import cli as report_cli

PINNED = "0" * 32 + ".dir"


def _steps(**outcomes: str) -> str:
    """The pipeline job's `steps` context as GitHub's toJSON(steps) renders it."""
    return json.dumps(
        {
            step: {"outputs": {}, "outcome": outcome, "conclusion": outcome}
            for step, outcome in outcomes.items()
        }
    )


def _report(root: Path) -> str:
    assert report_cli.main([]) == 0
    return (root / "reports/pr/report.md").read_text(encoding="utf-8")


def _pin_unavailable_data(root: Path) -> None:
    """data.dvc pins bytes that are nowhere: not here, no cache, no remote, not the example."""
    shutil.rmtree(root / "data")
    out = {"md5": PINNED, "size": 1, "nfiles": 1, "hash": "md5", "path": "data"}
    (root / "data.dvc").write_text(yaml.safe_dump({"outs": [out]}), encoding="utf-8")


def test_failed_data_pull_is_reported_as_the_data_step_with_its_message(
    baselined_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _pin_unavailable_data(baselined_project)
    monkeypatch.setenv(
        "STEPS_JSON", _steps(data="failure", train="skipped", baseline="skipped", gate="skipped")
    )
    text = _report(baselined_project)
    head = text.split("### ")[0]
    assert "## ❌ The data step failed" in head
    assert "data/churn.csv" in head and PINNED in head and "dvc push" in head
    assert "train step" not in text and "no model was trained" not in text


def test_failed_training_shows_its_exception_line(
    baselined_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    error = "`dvc repro` failed (exit 255): ValueError: Input contains NaN"
    (baselined_project / SMOKE_ERROR).parent.mkdir(parents=True)
    (baselined_project / SMOKE_ERROR).write_text(json.dumps({"error": error}), encoding="utf-8")
    monkeypatch.setenv(
        "STEPS_JSON", _steps(data="success", train="failure", baseline="skipped", gate="skipped")
    )
    head = _report(baselined_project).split("### ")[0]
    assert "## ❌ The train step failed" in head and "ValueError: Input contains NaN" in head


def test_gate_refusal_before_judging_shows_the_baseline_error(
    baselined_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = baselined_project / "reports/baseline"
    (base / "error.json").write_text(json.dumps({"error": "main's data: missing"}), "utf-8")
    monkeypatch.setenv(
        "STEPS_JSON", _steps(data="success", train="success", baseline="failure", gate="skipped")
    )
    head = _report(baselined_project).split("### ")[0]
    assert "## ❌ The baseline step failed" in head and "main's data: missing" in head


def test_pass_with_gains_says_improved(baselined_project: Path) -> None:
    path = baselined_project / "reports/baseline/predictions.csv"
    frame = pd.read_csv(path, dtype={"id": str})
    noise = np.random.default_rng(0).normal(scale=0.35, size=len(frame))
    frame["score"] = np.clip(frame["score"] + noise, 0.001, 0.999)  # main was worse
    frame.to_csv(path, index=False)
    assert gate_cli.main([]) == 0
    title = _report(baselined_project).splitlines()[1]
    assert title.startswith("## ✅ Metric gate: pass — improved roc_auc (+0."), title


def test_commit_shown_is_the_pr_head_not_the_merge_commit(
    baselined_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_SHA", "a" * 40)  # refs/pull/N/merge
    monkeypatch.setenv("PR_HEAD_SHA", "b" * 40)
    assert gate_cli.main([]) == 0
    text = _report(baselined_project)
    assert f"_PR commit `{'b' * 12}`" in text and "a" * 12 not in text


def test_first_error_prefers_the_stages_message_then_the_exception_line() -> None:
    traceback = ["Traceback (most recent call last):", '  File "x.py"', "KeyError: 'age'"]
    assert first_error([*traceback, "ERROR: failed to reproduce 'train'"]) == "KeyError: 'age'"
    stage = "mlship train: error: data/churn.csv: missing column(s) ['age']"
    assert first_error(["Running stage 'train':", stage, "ERROR: failed"]) == stage
    assert first_error(["all good"]) is None
