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


def test_report_is_told_which_steps_failed_and_the_prs_head_commit() -> None:
    (report,) = [step for step in _steps() if step.get("run") == "make report"]
    env = report["env"]
    assert isinstance(env, dict)
    assert env["STEPS_JSON"] == "${{ toJSON(steps) }}"
    assert env["PR_HEAD_SHA"] == "${{ github.event.pull_request.head.sha }}"


def test_the_pipeline_steps_carry_the_ids_the_report_names_and_the_report_runs_after_failures() -> (
    None
):
    jobs = yaml.safe_load(CI.read_text(encoding="utf-8"))["jobs"]
    steps = {str(step.get("run")): step for step in jobs["pipeline"]["steps"] if "run" in step}
    ids = {run: steps[run].get("id") for run in READS_DATA | {"make gate"}}
    assert ids == {
        "make validate": "data",
        "make smoke": "train",
        "make baseline": "baseline",
        "make gate": "gate",
        "make report": "report",
    }
    # Each model step runs only when every step before it passed; the report runs regardless.
    assert all("if" not in steps[run] for run in ids if run != "make report")
    assert steps["make report"]["if"] == "${{ !cancelled() }}"
