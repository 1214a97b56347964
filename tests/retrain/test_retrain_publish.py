"""`mlship retrain --publish`: an issue per rejected batch, a pushed branch and PR per retrain."""

from __future__ import annotations

import subprocess  # nosec B404
from pathlib import Path
from typing import Any

import pytest

from mlship.config import load_params
from mlship.retrain.cli import main
from mlship.retrain.decision import Action, Decision
from mlship.retrain.workspace import Paths, save_decision

GIT_IDENTITY = ["-c", "user.name=test", "-c", "user.email=test@example.com"]


def _git(*args: str, cwd: Path) -> str:
    done = subprocess.run(  # nosec B603 B607
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def _decide(outcome: str, action: Action = "retrain") -> Paths:
    params = load_params(Path("params.yaml"))
    paths = Paths(params)
    paths.out.mkdir(parents=True, exist_ok=True)
    decision = Decision("2026-07", "data/batches/2026-07.csv", action, outcome=outcome)
    decision.reasons.append("data drift in 2 of 9 features")
    save_decision(paths, decision)
    return paths


def test_publish_without_a_decision_names_the_missing_file(
    in_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--publish"]) != 0
    err = capsys.readouterr().err
    assert "decision.json is missing: run `mlship retrain` first" in err


def test_publish_of_a_skipped_batch_calls_nothing(in_project: Path, standin: Any) -> None:
    _decide("decided", action="skip")
    assert main(["--publish"]) == 0
    assert not standin.calls


def test_rejected_batch_opens_one_issue_with_every_violation_then_updates_it(
    in_project: Path, standin: Any
) -> None:
    paths = _decide("rejected", action="invalid")
    paths.validation.write_text("- `age`: 750 rows above 120\n", encoding="utf-8")
    assert main(["--publish"]) == 0
    assert main(["--publish"]) == 0
    assert len(standin.issues) == 1 and not standin.pulls
    issue = standin.issues[0]
    assert issue["title"] == "Data batch 2026-07 failed validation"
    assert issue["labels"] == ["mlship-retrain"] and issue["updates"] == 1
    assert issue["body"].startswith("## ❌ Batch rejected by validation — batch `2026-07`")
    assert "- `age`: 750 rows above 120" in issue["body"]


def test_retrain_pushes_its_branch_and_opens_a_pull_request_with_the_reports(
    in_project: Path, standin: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    remote = tmp_path_factory.mktemp("remote") / "origin.git"
    _git("init", "--quiet", "--bare", str(remote), cwd=in_project)
    _git("init", "--quiet", "-b", "main", cwd=in_project)
    (in_project / "data.dvc").write_text("outs:\n- path: data/churn.csv\n", encoding="utf-8")
    (in_project / "dvc.lock").write_text("schema: '2.0'\n", encoding="utf-8")
    _git("add", "params.yaml", cwd=in_project)
    _git(*GIT_IDENTITY, "commit", "--quiet", "-m", "champion", cwd=in_project)
    paths = _decide("retrained")
    gate = load_params(Path("params.yaml")).gate.out_dir / "gate.md"
    gate.parent.mkdir(parents=True, exist_ok=True)
    gate.write_text("**pass**: roc_auc +0.010\n", encoding="utf-8")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("RETRAIN_PUSH_URL", str(remote))
        assert main(["--publish"]) == 0

    assert len(standin.pulls) == 1 and not standin.issues
    pull = standin.pulls[0]
    assert (pull["head"], pull["base"]) == ("retrain/2026-07", "main")
    assert pull["body"].startswith("<!-- mlship retrain -->\n\n## 🔁 Retrain — batch `2026-07`")
    assert "### Gate: challenger vs champion\n\n**pass**: roc_auc +0.010" in pull["body"]
    assert "### Drift: batch vs the champion's training data\n\n_no drift report_" in pull["body"]
    files = _git("ls-tree", "--name-only", "retrain/2026-07", cwd=remote).split()
    assert {"data.dvc", "dvc.lock", "params.yaml"} <= set(files)
    message = _git("log", "-1", "--format=%B", "retrain/2026-07", cwd=remote)
    assert message.startswith("Retrain on 2026-07 data\n\nretrain on 2026-07: data drift")
    assert paths.decision.is_file()
