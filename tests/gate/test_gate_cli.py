"""`mlship gate` on a trained project: exit codes, the one-line messages, held-out row hashes."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from mlship.config import Params
from mlship.gate import baseline
from mlship.gate import cli as gate_cli
from mlship.gate.policy import POLICY_CHANGE


def _degrade_candidate(root: Path) -> None:
    path = root / "artifacts/eval/predictions.csv"
    frame = pd.read_csv(path, dtype={"id": str})
    noise = np.random.default_rng(0).normal(scale=0.35, size=len(frame))
    frame["score"] = np.clip(frame["score"] + noise, 0.001, 0.999)
    frame.to_csv(path, index=False)


def _change_held_out_rows(root: Path) -> Path:
    """Give main's baseline other held-out rows, as after a data change; return its folder."""
    base = root / "reports/baseline"
    info = json.loads((base / "holdout.json").read_text("utf-8"))
    (base / "holdout.json").write_text(json.dumps({**info, "rows_hash": "x"}), encoding="utf-8")
    return base


def _gate_json(root: Path) -> dict[str, object]:
    result: dict[str, object] = json.loads((root / "reports/gate/gate.json").read_text("utf-8"))
    return result


def test_gate_passes_with_no_metric_change_when_predictions_equal_mains(
    baselined_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert gate_cli.main([]) == 0
    out = capsys.readouterr().out
    assert "no metric change" in out
    assert "mlship gate: pass" in out
    assert "no metric change" in (baselined_project / "reports/gate/gate.md").read_text("utf-8")


def test_gate_exits_5_with_one_line_per_failing_metric(
    baselined_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _degrade_candidate(baselined_project)
    assert gate_cli.main([]) == 5
    err = capsys.readouterr().err.strip().splitlines()
    gate = _gate_json(baselined_project)
    metrics: list[dict[str, str]] = gate["metrics"]  # type: ignore[assignment]
    failing = [m for m in metrics if m["verdict"] != "pass"]
    assert len(err) == len(failing) >= 2
    for line, metric in zip(err, failing):
        assert line.startswith(f"mlship gate: {metric['name']}: ")
        for part in ("baseline ", "candidate ", "delta ", "95% CI [", "threshold: "):
            assert part in line


def test_gate_rescores_mains_model_when_the_held_out_rows_differ(
    baselined_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _change_held_out_rows(baselined_project)
    assert gate_cli.main([]) == 0
    out = capsys.readouterr().out
    held_out = len(pd.read_csv(baselined_project / "artifacts/eval/predictions.csv"))
    assert f"re-scored on the {held_out} held-out rows it never trained on" in out
    # Same model scored on the same rows: the re-scored baseline equals the candidate.
    assert _gate_json(baselined_project)["mode"] == "no_change"


def test_gate_leaves_out_held_out_rows_main_trained_on_when_the_data_changed(
    baselined_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = _change_held_out_rows(baselined_project)
    predictions = baselined_project / "artifacts/eval/predictions.csv"
    held_out = pd.read_csv(predictions, dtype={"id": str})["id"]
    # A reshuffled split put 100 of main's training rows into this branch's held-out set.
    seen = pd.read_csv(base / "train_ids.csv", dtype={"id": str})
    moved = pd.DataFrame({"id": held_out.iloc[:100]})
    pd.concat([seen, moved]).to_csv(base / "train_ids.csv", index=False)
    assert gate_cli.main([]) == 0
    out = capsys.readouterr().out
    assert f"re-scored on the {len(held_out) - 100} held-out rows it never trained on" in out


def test_gate_fails_closed_when_main_trained_on_every_held_out_row(
    baselined_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = _change_held_out_rows(baselined_project)
    shutil.copyfile(baselined_project / "artifacts/eval/predictions.csv", base / "train_ids.csv")
    assert gate_cli.main([]) == 5
    assert "every held-out row of this branch is a row main's model trained on" in (
        capsys.readouterr().err
    )


def test_gate_fails_closed_when_mains_model_cannot_score_the_new_rows(
    baselined_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = _change_held_out_rows(baselined_project)
    meta = json.loads((base / "model.json").read_text("utf-8"))
    meta["numeric"].append("ghost_column")
    (base / "model.json").write_text(json.dumps(meta), encoding="utf-8")
    assert gate_cli.main([]) == 5
    err = capsys.readouterr().err
    assert "fails closed" in err and "ghost_column" in err
    assert _gate_json(baselined_project)["verdict"] == "fail"


def test_gate_checks_floors_only_when_main_does_not_exist_yet(
    baselined_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = baselined_project / "reports/baseline"
    shutil.rmtree(base)
    base.mkdir()
    (base / "none.json").write_text(json.dumps({"reason": "'main' does not exist"}), "utf-8")
    assert gate_cli.main([]) == 0
    out = capsys.readouterr().out
    assert "only floors were checked" in out
    assert _gate_json(baselined_project)["mode"] == "floors_only"


def test_gate_without_a_baseline_asks_for_make_baseline(
    baselined_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.rmtree(baselined_project / "reports/baseline")
    assert gate_cli.main([]) == 3
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "run `make baseline` first" in line


def test_gate_without_a_trained_model_asks_for_make_smoke(
    baselined_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (baselined_project / "artifacts/eval/predictions.csv").unlink()
    assert gate_cli.main([]) == 4
    assert "run `make smoke` first" in capsys.readouterr().err


def test_baseline_writes_none_json_when_the_ref_does_not_exist(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, trained_project: tuple[Path, Params]
) -> None:
    _, params = trained_project
    monkeypatch.chdir(tmp_path)
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    info = baseline.run(params, "origin/no-such-branch")
    written = json.loads((tmp_path / "reports/baseline/none.json").read_text("utf-8"))
    assert written == info
    assert "does not exist" in written["reason"]


# --- the policy that judges is main's (issue 9) ---


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
    assert POLICY_CHANGE in out
    gate = json.loads((baselined_project / "reports/gate/gate.json").read_text("utf-8"))
    assert gate["verdict"] == "fail" and gate["inconclusive"] == "fail"
    (note,) = [n for n in gate["notes"] if POLICY_CHANGE in n]
    assert "`gate.metrics.roc_auc.max_drop` 0.01 → 0.9" in note
    assert "`gate.inconclusive` fail → pass" in note
    assert POLICY_CHANGE in (baselined_project / "reports/gate/gate.md").read_text("utf-8")


def test_unchanged_policy_adds_no_policy_note(baselined_project: Path) -> None:
    assert gate_cli.main([]) == 0
    gate = json.loads((baselined_project / "reports/gate/gate.json").read_text("utf-8"))
    assert not [n for n in gate["notes"] if POLICY_CHANGE in n]


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


def test_gate_checks_this_branchs_floors_when_main_solves_another_problem(
    baselined_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Main still holds another task (the example before `mlship init`): its gate metrics do not
    # exist for this branch's task and its model cannot score these rows.
    base = baselined_project / "reports/baseline"
    raw = yaml.safe_load((base / "params.yaml").read_text("utf-8"))
    raw["data"].update(task="regression", target="spend")
    raw["gate"]["metrics"] = {"rmse": {"max_drop": 0.1}}
    (base / "params.yaml").write_text(yaml.safe_dump(raw), encoding="utf-8")
    _change_held_out_rows(baselined_project)
    assert gate_cli.main([]) == 0
    out = capsys.readouterr().out
    assert "main's model is for another problem (task 'regression', target `spend`" in out
    assert "only floors were checked" in out
    assert _gate_json(baselined_project)["mode"] == "floors_only"
