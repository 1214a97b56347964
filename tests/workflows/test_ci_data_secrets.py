"""ci.yml gives the DVC remote's credentials to the steps that read data, and to no other."""

from __future__ import annotations

from pathlib import Path

import yaml

CI = Path(__file__).resolve().parents[2] / ".github" / "workflows" / "ci.yml"
READS_DATA = {"make validate", "make smoke", "make baseline", "make report"}


def _steps() -> list[dict[str, object]]:
    jobs = yaml.safe_load(CI.read_text(encoding="utf-8"))["jobs"]
    return [step for job in jobs.values() for step in job["steps"]]


def test_only_the_steps_that_read_data_get_the_dvc_remote_credentials() -> None:
    given = {
        str(step.get("run"))
        for step in _steps()
        if "secrets.DVC_" in yaml.safe_dump(step.get("env", {}))
    }
    assert given == READS_DATA


def test_report_is_told_which_jobs_failed_and_the_prs_head_commit() -> None:
    (report,) = [step for step in _steps() if step.get("run") == "make report"]
    env = report["env"]
    assert isinstance(env, dict)
    assert env["NEEDS_JSON"] == "${{ toJSON(needs) }}"
    assert env["PR_HEAD_SHA"] == "${{ github.event.pull_request.head.sha }}"
