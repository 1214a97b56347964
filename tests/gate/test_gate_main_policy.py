"""The gate judges a pull request by main's `gate:` policy; the PR's own applies after merge."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from mlship.gate import cli as gate_cli


def _degrade_candidate(root: Path) -> None:
    path = root / "artifacts/eval/predictions.csv"
    frame = pd.read_csv(path, dtype={"id": str})
    noise = np.random.default_rng(0).normal(scale=0.35, size=len(frame))
    frame["score"] = np.clip(frame["score"] + noise, 0.001, 0.999)
    frame.to_csv(path, index=False)


def _loosen_pr_policy(root: Path) -> None:
    """The PR raises every tolerated drop and lets inconclusive differences pass."""
    params = yaml.safe_load((root / "params.yaml").read_text(encoding="utf-8"))
    for rule in params["gate"]["metrics"].values():
        rule["max_drop"] = 0.9
        rule.pop("floor", None)
    params["gate"]["inconclusive"] = "pass"
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")


def test_pr_that_loosens_its_gate_is_judged_by_mains_policy_and_fails(
    baselined_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _degrade_candidate(baselined_project)
    _loosen_pr_policy(baselined_project)
    assert gate_cli.main([]) == 5
    out = capsys.readouterr().out
    assert gate_cli.POLICY_CHANGE in out
    gate = json.loads((baselined_project / "reports/gate/gate.json").read_text("utf-8"))
    assert gate["verdict"] == "fail" and gate["inconclusive"] == "fail"
    (note,) = [n for n in gate["notes"] if gate_cli.POLICY_CHANGE in n]
    assert "`gate.metrics.roc_auc.max_drop` 0.01 → 0.9" in note
    assert "`gate.inconclusive` fail → pass" in note
    assert gate_cli.POLICY_CHANGE in (baselined_project / "reports/gate/gate.md").read_text("utf-8")


def test_unchanged_policy_adds_no_policy_note(baselined_project: Path) -> None:
    assert gate_cli.main([]) == 0
    gate = json.loads((baselined_project / "reports/gate/gate.json").read_text("utf-8"))
    assert not [n for n in gate["notes"] if gate_cli.POLICY_CHANGE in n]


def test_stricter_main_policy_fails_a_pr_its_own_policy_would_pass(
    baselined_project: Path,
) -> None:
    base = baselined_project / "reports/baseline/params.yaml"
    params = yaml.safe_load(base.read_text(encoding="utf-8"))
    params["gate"]["metrics"]["roc_auc"]["floor"] = 0.999
    base.write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    assert gate_cli.main([]) == 5
    gate = json.loads((baselined_project / "reports/gate/gate.json").read_text("utf-8"))
    (roc,) = [m for m in gate["metrics"] if m["name"] == "roc_auc"]
    assert roc["floor"] == 0.999 and roc["verdict"] == "fail"


def test_without_a_baseline_the_prs_own_floors_apply(baselined_project: Path) -> None:
    base = baselined_project / "reports/baseline"
    shutil.rmtree(base)
    base.mkdir()
    (base / "none.json").write_text(json.dumps({"reason": "'main' does not exist"}), "utf-8")
    _loosen_pr_policy(baselined_project)
    assert gate_cli.main([]) == 0
    gate = json.loads((baselined_project / "reports/gate/gate.json").read_text("utf-8"))
    assert gate["mode"] == "floors_only" and gate["inconclusive"] == "pass"
