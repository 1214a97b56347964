"""The workflow files keep the rules the brief sets: thin, pinned, least privilege, fork-safe."""

from __future__ import annotations

import re
import subprocess  # nosec B404
import sys
from pathlib import Path
from typing import Any

import pytest
from act_harness import LOCAL_WORKFLOW, job_steps
from act_harness import load_workflow as load

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO / ".github" / "workflows"
BIN = Path(sys.executable).parent
FILES = sorted(WORKFLOWS.glob("*.yml"))


def steps(path: Path) -> list[tuple[str, dict[str, Any]]]:
    """(job id, step) for every step a workflow runs, a called workflow's under its caller."""
    return [(job_id, step) for job_id, found in job_steps(REPO, path).items() for step in found]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_run_step_is_one_make_target(path: Path) -> None:
    runs = [(job, step["run"]) for job, step in steps(path) if "run" in step]
    assert runs
    for job, command in runs:
        assert re.fullmatch(r"make [a-z][a-z0-9-]*", command.strip()), (job, command)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_action_is_pinned_to_a_commit_with_a_version_comment(path: Path) -> None:
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if "uses:" in line]
    assert lines
    # A reusable workflow of this repository runs as the same commit has it.
    local = re.compile(rf"uses: {re.escape(LOCAL_WORKFLOW)}[\w.-]+\.yml( #.*)?$")
    for line in [line for line in lines if not local.search(line)]:
        # owner/repo, or a sub-action in it (actions/cache/save), at a commit with its version.
        pinned = r"uses: [\w.-]+/[\w.-]+(/[\w.-]+)*@[0-9a-f]{40} # v\d+\.\d+\.\d+$"
        assert re.search(pinned, line), line


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_values_reach_run_steps_only_through_env(path: Path) -> None:
    for job, step in steps(path):
        assert "${{" not in step.get("run", ""), (job, step["run"])


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_no_checkout_persists_credentials(path: Path) -> None:
    checkouts = [s for _, s in steps(path) if s.get("uses", "").startswith("actions/checkout@")]
    assert checkouts
    assert all(s["with"]["persist-credentials"] is False for s in checkouts)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_top_level_grants_nothing_and_every_job_has_a_timeout(path: Path) -> None:
    workflow = load(path)
    assert workflow["permissions"] == {}
    for job_id, job in workflow["jobs"].items():
        # A job calling a reusable workflow cannot set one (GitHub): the called jobs do.
        if "uses" not in job:
            assert 0 < job["timeout-minutes"] <= 30, job_id


def test_ci_jobs_only_read_contents() -> None:
    jobs = load(WORKFLOWS / "ci.yml")["jobs"]
    assert {job_id: job["permissions"] for job_id, job in jobs.items()} == dict.fromkeys(
        jobs, {"contents": "read"}
    )


def test_ci_runs_on_pull_requests_and_pushes_to_main_cancelling_superseded_pr_runs_only() -> None:
    workflow = load(WORKFLOWS / "ci.yml")
    assert workflow["on"] == {"pull_request": None, "push": {"branches": ["main"]}}
    assert workflow["concurrency"] == {
        "group": "ci-${{ github.ref }}",
        "cancel-in-progress": "${{ github.event_name == 'pull_request' }}",
    }


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_artifact_upload_can_be_rerun(path: Path) -> None:
    uploads = [
        s for _, s in steps(path) if s.get("uses", "").startswith("actions/upload-artifact@")
    ]
    assert all(s["with"]["overwrite"] is True for s in uploads), uploads


def test_check_is_green_only_when_every_other_ci_job_succeeded() -> None:
    jobs = load(WORKFLOWS / "ci.yml")["jobs"]
    check = jobs["check"]
    assert set(check["needs"]) == set(jobs) - {"check"}
    assert check["if"] == "${{ always() }}"
    assert check["steps"][-1] == {
        "run": "make all-green",
        "env": {"NEEDS_JSON": "${{ toJSON(needs) }}"},
    }


def test_pr_report_never_touches_pr_code_and_only_comments() -> None:
    workflow = load(WORKFLOWS / "pr-report.yml")
    assert workflow["on"] == {"workflow_run": {"workflows": ["CI"], "types": ["completed"]}}
    (job,) = workflow["jobs"].values()
    assert job["permissions"] == {"actions": "read", "contents": "read", "pull-requests": "write"}
    checkout = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"]["ref"] == "${{ github.event.repository.default_branch }}"
    text = (WORKFLOWS / "pr-report.yml").read_text(encoding="utf-8")
    assert "head_sha" not in text and "head_branch" not in text and "secrets." not in text


def _passes(*command: str) -> str:
    """Run a tool at the repository root; fail with its output unless it exits 0."""
    proc = subprocess.run(  # nosec B603
        command, cwd=REPO, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_actionlint_with_shellcheck_and_zizmor_report_nothing() -> None:
    _passes(str(BIN / "actionlint"), f"-shellcheck={BIN / 'shellcheck'}")
    assert "No findings" in _passes(str(BIN / "zizmor"), "--offline", ".github")
