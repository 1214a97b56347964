"""retrain.yml under act: the monthly loop on stable, invalid and drifted batches (issue 5).

One scenario repository (the project as `main`, 3,000-row example) and one GitHub API stand-in
serve four workflow_dispatch runs in order, as GitHub would see them: (b) a stable batch, (c)
an invalid one, (a) a drifted one, and (d) the same drifted month again. The branch is pushed
to a bare repository standing in for GitHub's copy (RETRAIN_PUSH_URL); the stand-in records
every API call and keeps the pull requests and issues it was asked to create.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from act_harness import ActRun, Scenario, create_repo, git, make_act_venv
from github_standin import GitHubStandIn

pytestmark = pytest.mark.system

DRIFTED, STABLE, INVALID = "2026-07", "2026-08", "2026-09"


@dataclass
class Loop:
    """The scenario repository, the GitHub stand-in and the bare remote the branch goes to."""

    scenario: Scenario
    github: GitHubStandIn
    remote: Path

    def dispatch(self, month: str, batch: str) -> ActRun:
        """Run retrain.yml as a workflow_dispatch with these inputs."""
        payload = {
            "inputs": {"month": month, "scenario": batch, "force": False},
            "ref": "refs/heads/main",
            "repository": {"full_name": "acme/mlship", "default_branch": "main"},
        }
        env = {"GITHUB_API_URL": self.github.url, "RETRAIN_PUSH_URL": str(self.remote)}
        return self.scenario.act("workflow_dispatch", "retrain.yml", payload, extra_env=env)

    def decision(self) -> dict[str, Any]:
        """decision.json from the run's uploaded `mlship-retrain` artifact."""
        # Without reports/gate the artifact's root is reports/retrain itself.
        path = next((self.scenario.artifacts / "mlship-retrain").rglob("decision.json"))
        loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return loaded


@pytest.fixture(scope="module")
def loop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loop]:
    """A fresh scenario repository, bare remote and GitHub stand-in for the four runs."""
    work = tmp_path_factory.mktemp("retrain-loop")
    venv = make_act_venv(work / "venv")
    repo = create_repo(work / "repo")
    remote = work / "remote.git"
    git(work, "init", "--quiet", "--bare", str(remote))
    git(repo, "push", "--quiet", str(remote), "main")
    github = GitHubStandIn().start()
    try:
        yield Loop(Scenario(repo, work, venv), github, remote)
    finally:
        github.stop()


@pytest.fixture(scope="module")
def stable_run(loop: Loop) -> tuple[ActRun, dict[str, Any]]:
    """(b) a batch like the training data."""
    run = loop.dispatch(STABLE, "stable")
    return run, loop.decision()


@pytest.fixture(scope="module")
def invalid_run(loop: Loop, stable_run: tuple[ActRun, dict[str, Any]]) -> tuple[ActRun, Any]:
    """(c) a broken export, after (b)."""
    del stable_run
    run = loop.dispatch(INVALID, "invalid")
    return run, loop.decision()


@pytest.fixture(scope="module")
def drifted_run(loop: Loop, invalid_run: tuple[ActRun, Any]) -> tuple[ActRun, dict[str, Any]]:
    """(a) a drifted batch, after (c)."""
    del invalid_run
    run = loop.dispatch(DRIFTED, "drifted")
    return run, loop.decision()


@pytest.fixture(scope="module")
def drifted_again(loop: Loop, drifted_run: tuple[ActRun, Any]) -> tuple[ActRun, str]:
    """(d) the same drifted month once more; returns the branch head after the first run too."""
    first_head = git(loop.remote, "rev-parse", f"refs/heads/retrain/{DRIFTED}")
    del drifted_run
    return loop.dispatch(DRIFTED, "drifted"), first_head


def test_stable_batch_is_not_retrained_and_the_run_says_why(
    loop: Loop, stable_run: tuple[ActRun, dict[str, Any]]
) -> None:
    run, decision = stable_run
    assert run.result("retrain") == "success", run.describe()
    assert decision["action"] == "skip" and decision["outcome"] == "decided"
    log = run.log("retrain")
    assert f"no retrain for {STABLE}: no feature drifted" in log, run.describe()
    assert "nothing to publish" in log
    assert not [c for c in loop.github.calls if c["method"] != "GET"]


def test_invalid_batch_opens_one_issue_listing_violations_and_registers_nothing(
    loop: Loop, invalid_run: tuple[ActRun, dict[str, Any]]
) -> None:
    run, decision = invalid_run
    assert run.result("retrain") == "failure", run.describe()
    assert decision["action"] == "invalid" and decision["registered_version"] is None
    assert len(loop.github.issues) == 1, loop.github.calls
    issue = loop.github.issues[0]
    assert issue["title"] == f"Data batch {INVALID} failed validation"
    assert issue["labels"] == ["mlship-retrain"]
    for column in ("age", "churned", "contract"):
        assert f"`{column}`" in issue["body"], issue["body"]
    assert not loop.github.pulls
    assert git(loop.remote, "branch", "--list", "retrain/*") == ""


def test_drifted_batch_is_retrained_gated_registered_and_opens_one_pull_request(
    loop: Loop, drifted_run: tuple[ActRun, dict[str, Any]]
) -> None:
    run, decision = drifted_run
    assert run.result("retrain") == "success", run.describe()
    assert decision["action"] == "retrain" and decision["outcome"] == "retrained"
    assert decision["gate_verdict"] == "pass" and decision["registered_version"] == "1"
    assert "monthly_charges" in decision["drift"]["drifted_features"]
    assert len(loop.github.pulls) == 1, loop.github.calls
    pull = loop.github.pulls[0]
    assert pull["head"] == f"retrain/{DRIFTED}" and pull["base"] == "main"
    assert "Why retrain" in pull["body"] and "`monthly_charges`" in pull["body"]
    assert "Metric gate: ✅ pass" in pull["body"], pull["body"][:3000]
    assert "Domain classifier" in pull["body"]
    changed = git(loop.remote, "diff", "--name-only", "main", f"retrain/{DRIFTED}")
    assert changed.split() == ["data.dvc", "dvc.lock"]


def test_second_drifted_run_of_the_month_updates_the_same_pull_request(
    loop: Loop, drifted_again: tuple[ActRun, str]
) -> None:
    run, first_head = drifted_again
    assert run.result("retrain") == "success", run.describe()
    assert len(loop.github.pulls) == 1 and loop.github.pulls[0]["updates"] == 1
    posts = [c for c in loop.github.calls if c["method"] == "POST" and c["path"].endswith("/pulls")]
    assert len(posts) == 1
    assert git(loop.remote, "rev-parse", f"refs/heads/retrain/{DRIFTED}") != first_head
