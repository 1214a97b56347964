"""The checkout stand-in keeps checkout v7's guard: no fork PR code in a workflow_run run.

pr-report.yml (workflow_run) checks out the default branch, which v7 allows; a ref naming the
fork's PR is refused, as upstream's src/unsafe-pr-checkout-helper.ts refuses it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess  # nosec B404
from pathlib import Path

import pytest
from act_harness import STANDINS, event, git

INDEX = STANDINS / "actions" / "checkout" / "index.js"
NODE = shutil.which("node")


def checkout(tmp_path: Path, ref: str, fork: bool) -> subprocess.CompletedProcess[str]:
    """Run the stand-in's main step as the runner would for pr-report.yml's checkout."""
    payload = event(
        "workflow_run.json",
        run_id=1,
        conclusion="success",
        head_sha="a" * 40,
        head_repository="contributor/mlship" if fork else "acme/mlship",
        head_repository_id=2002 if fork else 1001,
        fork=json.dumps(fork),
        pull_requests="[]",
    )
    (tmp_path / "event.json").write_text(json.dumps(payload), encoding="utf-8")
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    for name in ("output", "state"):
        (tmp_path / name).touch()
    inputs = {"ref": ref, "repository": "acme/mlship", "lfs": "false", "submodules": "false"}
    inputs["allow-unsafe-pr-checkout"] = "false"
    assert NODE, "node is on every GitHub-hosted runner and runs every JavaScript action"
    return subprocess.run(  # nosec B603
        [NODE, str(INDEX)],
        env={
            "PATH": os.environ["PATH"],
            "MLSHIP_ACT_HARNESS": str(STANDINS.parent),
            "MLSHIP_ACT_REPO": str(tmp_path / "repo"),
            "GITHUB_REPOSITORY": "acme/mlship",
            "GITHUB_EVENT_NAME": "workflow_run",
            "GITHUB_EVENT_PATH": str(tmp_path / "event.json"),
            "GITHUB_WORKSPACE": str(workspace),
            "GITHUB_OUTPUT": str(tmp_path / "output"),
            "GITHUB_STATE": str(tmp_path / "state"),
            "GIT_CONFIG_GLOBAL": os.devnull,
            **{f"INPUT_{name.upper()}": value for name, value in inputs.items()},
        },
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture
def scenario_repo(tmp_path: Path) -> Path:
    """A repository with a main branch and a PR ref, as GitHub's copy has."""
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "README.md").write_text("main\n", encoding="utf-8")
    git(repo, "init", "--quiet", "--initial-branch=main")
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "--message", "main")
    git(repo, "update-ref", "refs/pull/14/head", "HEAD")
    return repo


def test_default_branch_of_a_fork_prs_run_is_checked_out(
    tmp_path: Path, scenario_repo: Path
) -> None:
    done = checkout(tmp_path, "main", fork=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "workspace" / "README.md").read_text(encoding="utf-8") == "main\n"
    assert f"commit={git(scenario_repo, 'rev-parse', 'HEAD')}" in (tmp_path / "output").read_text()


@pytest.mark.usefixtures("scenario_repo")
def test_a_fork_prs_ref_is_refused_in_a_workflow_run(tmp_path: Path) -> None:
    refused = checkout(tmp_path, "refs/pull/14/head", fork=True)
    assert refused.returncode == 1
    assert "Refusing to check out fork pull request code from a 'workflow_run'" in refused.stdout
    assert not any((tmp_path / "workspace").iterdir())


@pytest.mark.usefixtures("scenario_repo")
def test_a_same_repository_prs_ref_is_allowed(tmp_path: Path) -> None:
    done = checkout(tmp_path, "refs/pull/14/head", fork=False)
    assert done.returncode == 0, done.stdout + done.stderr
