"""pipeline.yml is the one reusable workflow train.yml and release.yml call, and each call fits it.

GitHub refuses a call that passes an input or secret the called workflow does not declare, that
omits a required one, or whose caller grants less than the called jobs ask for; these checks
hold the files to that before a run does. `secrets: inherit` is refused: each caller names the
secrets it hands over.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from act_harness import LOCAL_WORKFLOW, called_workflow, callers, job_steps, load_workflow

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO / ".github" / "workflows"
PIPELINE = WORKFLOWS / "pipeline.yml"
# Which caller job calls pipeline.yml, and what it asks of it.
CALLERS = {"train.yml": "train", "release.yml": "pipeline"}
LEVELS = {"none": 0, "read": 1, "write": 2}
# A boolean input takes a YAML boolean or an expression; a string input a string.
TYPES: dict[str, tuple[type, ...]] = {"boolean": (bool, str), "string": (str,)}


def calls() -> list[tuple[str, str, dict[str, Any], Path]]:
    """(workflow, job id, job, called file) for every job that calls a local reusable workflow."""
    found = []
    for path in sorted(WORKFLOWS.glob("*.yml")):
        for job_id, job in load_workflow(path)["jobs"].items():
            called = called_workflow(REPO, job)
            if called is not None:
                found.append((path.name, job_id, job, called))
    return found


def call_config(path: Path) -> dict[str, Any]:
    """The `on.workflow_call` section of a reusable workflow."""
    on = load_workflow(path)["on"]
    assert isinstance(on, dict) and "workflow_call" in on, f"{path.name} has no on: workflow_call"
    config: dict[str, Any] = on["workflow_call"] or {}
    return config


CALLS = calls()
IDS = [f"{workflow}:{job_id}" for workflow, job_id, _, _ in CALLS]


def test_train_and_release_call_the_pipeline_workflow() -> None:
    assert {(workflow, job_id) for workflow, job_id, _, _ in CALLS} == set(CALLERS.items())
    assert {called for *_, called in CALLS} == {PIPELINE}
    for _, _, job, _ in CALLS:
        assert job["uses"].startswith(LOCAL_WORKFLOW)


def test_the_pipeline_workflow_runs_only_when_called() -> None:
    assert list(load_workflow(PIPELINE)["on"]) == ["workflow_call"]


@pytest.mark.parametrize("workflow, job_id, job, called", CALLS, ids=IDS)
def test_each_call_passes_declared_inputs_of_their_type_and_every_required_one(
    workflow: str, job_id: str, job: dict[str, Any], called: Path
) -> None:
    declared = call_config(called).get("inputs") or {}
    given = job.get("with") or {}
    unknown = set(given) - set(declared)
    assert not unknown, f"{workflow}:{job_id} passes inputs it does not declare: {unknown}"
    required = {name for name, spec in declared.items() if spec.get("required")}
    assert required <= set(given), f"{workflow}:{job_id} omits {required - set(given)}"
    for name, value in given.items():
        assert isinstance(value, TYPES[declared[name]["type"]]), (workflow, job_id, name, value)


@pytest.mark.parametrize("workflow, job_id, job, called", CALLS, ids=IDS)
def test_each_call_names_only_declared_secrets_and_every_required_one(
    workflow: str, job_id: str, job: dict[str, Any], called: Path
) -> None:
    secrets = job.get("secrets") or {}
    assert secrets != "inherit", f"{workflow}:{job_id}: name the secrets, never inherit them all"
    declared = call_config(called).get("secrets") or {}
    unknown = set(secrets) - set(declared)
    assert not unknown, f"{workflow}:{job_id} passes secrets it does not declare: {unknown}"
    required = {name for name, spec in declared.items() if spec.get("required")}
    assert required <= set(secrets), f"{workflow}:{job_id} omits {required - set(secrets)}"
    for name, value in secrets.items():
        # Each one is the caller's secret of that name, nothing else mixed in.
        assert value == f"${{{{ secrets.{name} }}}}", (workflow, job_id, name, value)


@pytest.mark.parametrize("workflow, job_id, job, called", CALLS, ids=IDS)
def test_each_caller_grants_what_the_called_jobs_ask_and_they_ask_for_little(
    workflow: str, job_id: str, job: dict[str, Any], called: Path
) -> None:
    granted = job["permissions"]
    for inner_id, inner in load_workflow(called)["jobs"].items():
        for scope, level in inner["permissions"].items():
            have = granted.get(scope, "none")
            assert LEVELS[have] >= LEVELS[level], (workflow, job_id, inner_id, scope, have, level)
    # The pipeline reads the repository and nothing else.
    assert {j["permissions"]["contents"] for j in load_workflow(called)["jobs"].values()} == {
        "read"
    }


def test_the_pipeline_uses_only_the_inputs_and_secrets_it_declares() -> None:
    config = call_config(PIPELINE)
    text = PIPELINE.read_text(encoding="utf-8")
    used = set(re.findall(r"\binputs\.([\w-]+)", text))
    assert used == set(config["inputs"]), used ^ set(config["inputs"])
    used = set(re.findall(r"\bsecrets\.([\w-]+)", text))
    assert used == set(config["secrets"]), used ^ set(config["secrets"])


def test_act_logs_of_the_called_jobs_are_filed_under_their_callers() -> None:
    for workflow, job_id in CALLERS.items():
        assert set(callers(REPO, WORKFLOWS / workflow).values()) == {job_id}


def test_a_called_job_named_like_another_job_of_the_caller_is_refused(tmp_path: Path) -> None:
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "called.yml").write_text(
        "on: workflow_call\njobs:\n  build:\n    steps:\n      - id: make\n        run: make x\n"
    )
    caller = workflows / "caller.yml"
    caller.write_text("on: push\njobs:\n  ci:\n    uses: ./.github/workflows/called.yml\n")
    assert job_steps(tmp_path, caller) == {"ci": [{"id": "make", "run": "make x"}]}
    assert callers(tmp_path, caller) == {"build": "ci"}
    caller.write_text(caller.read_text() + "  build:\n    steps: []\n")
    with pytest.raises(AssertionError, match="'build' of called.yml cannot be told apart"):
        callers(tmp_path, caller)
