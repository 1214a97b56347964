"""The real workflow files, run under act on scenario pull requests (issue 3, S1-S6).

Each module-scoped fixture builds one scenario repository (main plus a PR branch), runs
ci.yml for the PR with act and then pr-report.yml for that CI run, as GitHub would, and keeps
the job results, the artifact calls and the comments the `cml` stand-in recorded.

S3 and S5 are the second push of the S2 pull request. S1 runs every CI job; the others run
`--job pipeline` (its steps data, train, baseline, gate, report): lint, format, security and
test do not depend on what those PRs change, and running them again would triple the time. Their
`check` verdict is the `check` job's own step (`make all-green`) applied to the pipeline job's
result as act produced it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess  # nosec B404
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from act_harness import (
    ActRun,
    Scenario,
    create_repo,
    edit_yaml,
    event,
    fresh_clone_state,
    git,
    make_act_venv,
    push_pr,
    tool,
)
from github_standin import GitHubStandIn

pytestmark = pytest.mark.system

ALL_JOBS = ("lint", "format", "security", "test", "pipeline", "check")
# The test job inside S1 runs a fast part of the suite: the whole suite would run these act
# scenarios again, recursively. Three files, one for each of ci.yml's three test parts.
NESTED_PYTEST_ARGS = (
    "-q -p no:cacheprovider tests/config tests/test_errors.py tests/test_settings.py"
)
CI_RUN_ID = 4242
# The job that validates, trains, gates and reports, and its steps' ids.
PIPELINE = "pipeline"
MODEL_STEPS = ("data", "train", "baseline", "gate", "report")
# The data step failed: nothing after it ran but the report.
DATA_FAILED = {
    "data": "failure",
    "train": "skipped",
    "baseline": "skipped",
    "gate": "skipped",
    "report": "success",
}


@dataclass
class PullRequest:
    """One push to a scenario PR: its CI run and the pr-report run that followed."""

    scenario: Scenario
    number: int
    ci: ActRun
    report: ActRun
    run_payload: dict[str, object]
    github_calls: list[dict[str, object]]

    def comment(self) -> dict[str, object]:
        """The last comment call the `cml` stand-in recorded."""
        calls = self.scenario.comments()
        assert calls, f"no comment recorded\n{self.report.describe()}"
        return calls[-1]


def _scenario(
    factory: pytest.TempPathFactory,
    venv: Path,
    name: str,
    on_main: Callable[[Path], None] = lambda _: None,
) -> Scenario:
    work = factory.mktemp(name)
    return Scenario(create_repo(work / "repo", on_main), work, venv)


def _conclusion(run: ActRun) -> str:
    return "failure" if "failure" in run.jobs.values() else "success"


def push(
    scenario: Scenario,
    number: int,
    message: str,
    change: Callable[[Path], None],
    job: str | None = PIPELINE,
    fork: bool = False,
    branch: str = "pr",
) -> PullRequest:
    """Push `change` to the PR, run CI on it, then the pr-report workflow for that CI run."""
    head = push_pr(scenario.repo, message, change, branch)
    base = git(scenario.repo, "rev-parse", "main")
    head_repository = "contributor/mlship" if fork else "acme/mlship"
    common = {"head_sha": head, "head_repository": head_repository, "fork": json.dumps(fork)}
    payload = event("pull_request.json", number=number, title=message, base_sha=base, **common)
    # GitHub's repository ids: a fork has its own (checkout v7 tells fork PRs apart by them).
    common["head_repository_id"] = "2002" if fork else "1001"
    ci = scenario.act(
        "pull_request", "ci.yml", payload, job=job, extra_env={"PYTEST_ARGS": NESTED_PYTEST_ARGS}
    )
    # GitHub lists no pull request on a workflow_run triggered from a fork.
    listed = [] if fork else [{"number": number, "head": {"ref": "pr", "sha": head}}]
    run_payload = event(
        "workflow_run.json",
        run_id=CI_RUN_ID,
        conclusion=_conclusion(ci),
        pull_requests=json.dumps(listed),
        **common,
    )
    report, calls = run_pr_report(scenario, run_payload, {number: head})
    return PullRequest(scenario, number, ci, report, run_payload, calls)


def run_pr_report(
    scenario: Scenario, run_payload: dict[str, object], heads: dict[int, str]
) -> tuple[ActRun, list[dict[str, object]]]:
    """Run pr-report.yml for a CI run, with GitHub's API knowing the PRs' `heads` (number: sha)."""
    github = GitHubStandIn().start()
    github.pulls += [
        {"number": n, "state": "open", "head": {"ref": "pr", "sha": sha}}
        for n, sha in heads.items()
    ]
    try:
        env = {"GITHUB_API_URL": github.url}
        return (
            scenario.act("workflow_run", "pr-report.yml", run_payload, extra_env=env),
            github.calls,
        )
    finally:
        github.stop()


def model_steps(run: ActRun) -> dict[str, str]:
    """Each step of the pipeline job and its result."""
    return {step: run.step(PIPELINE, step) for step in MODEL_STEPS}


def all_passed(run: ActRun) -> bool:
    """Whether the pipeline job and every one of its steps succeeded."""
    return run.result(PIPELINE) == "success" and set(model_steps(run).values()) == {"success"}


def check_verdict(scenario: Scenario, run: ActRun) -> subprocess.CompletedProcess[str]:
    """The `check` job's step (`make all-green`) on the result of the pipeline job act ran."""
    needs = {PIPELINE: {"result": run.result(PIPELINE), "outputs": {}}}
    return subprocess.run(
        ["make", "--no-print-directory", "all-green"],
        cwd=scenario.repo,
        env={**os.environ, "NEEDS_JSON": json.dumps(needs)},
        capture_output=True,
        text=True,
        check=False,
    )  # nosec B603 B607


def _set_params(**sections: dict[str, object]) -> Callable[[Path], None]:
    def change(repo: Path) -> None:
        def apply(params: dict[str, object]) -> None:
            for section, values in sections.items():
                current = params[section]
                assert isinstance(current, dict)
                current.update(values)

        edit_yaml(repo / "params.yaml", apply)

    return change


def _touch_docstring(text: str) -> Callable[[Path], None]:
    def change(repo: Path) -> None:
        module = repo / "src" / "mlship" / "files.py"
        source = module.read_text(encoding="utf-8")
        first = source.index('"""', 3)
        module.write_text(source[:first] + f" {text}" + source[first:], encoding="utf-8")

    return change


def _metric_row(markdown: str, metric: str) -> str:
    rows = [line for line in markdown.splitlines() if line.startswith("|") and metric in line]
    assert rows, f"no table row for {metric} in the comment:\n{markdown[:3000]}"
    return rows[0]


@pytest.fixture(scope="session")
def act_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The virtualenv every act job uses (this session's packages, nothing installed)."""
    return make_act_venv(tmp_path_factory.mktemp("act-venv") / "venv")


# --- S1: a docstring-only PR, every CI job run -----------------------------------------------


@pytest.fixture(scope="module")
def docstring_pr(tmp_path_factory: pytest.TempPathFactory, act_venv: Path) -> PullRequest:
    """S1: a PR that only edits a docstring, with every CI job run."""
    scenario = _scenario(tmp_path_factory, act_venv, "s1-docstring")
    return push(scenario, 11, "Reword a docstring", _touch_docstring("(reworded)"), job=None)


def test_docstring_only_pr_turns_every_ci_job_green(docstring_pr: PullRequest) -> None:
    run = docstring_pr.ci
    assert {job: run.result(job) for job in ALL_JOBS} == dict.fromkeys(
        ALL_JOBS, "success"
    ), run.describe()
    assert all_passed(run), run.describe()


def test_docstring_only_pr_passes_the_gate_with_no_metric_change(
    docstring_pr: PullRequest,
) -> None:
    log = docstring_pr.ci.log(PIPELINE, "gate")
    assert re.search(r"gate: pass", log), docstring_pr.ci.describe()
    markdown = str(docstring_pr.comment()["markdown"])
    assert "no metric change" in markdown.lower(), markdown[:3000]


def test_docstring_only_pr_gets_one_comment_posted_with_its_plots(
    docstring_pr: PullRequest,
) -> None:
    assert docstring_pr.report.result("comment") == "success", docstring_pr.report.describe()
    comment = docstring_pr.comment()
    assert comment["argv"][:3] == ["cml", "comment", "update"]
    assert comment["target"] == "pr/11" and comment["publish"] is True
    assert comment["images"] and not comment["missing_images"], comment["images"]
    assert len(docstring_pr.scenario.posted()) == 1


# --- S2, S3 and S5: a PR that makes the model worse, then a push that makes it better ----------


@pytest.fixture(scope="module")
def degrading_pr(tmp_path_factory: pytest.TempPathFactory, act_venv: Path) -> PullRequest:
    """S2: a PR that cripples the model through params (two tiny trees)."""
    scenario = _scenario(tmp_path_factory, act_venv, "s2-degrade-then-improve")
    change = _set_params(
        train={"hyperparams": {"learning_rate": 0.05, "max_iter": 2, "max_leaf_nodes": 2}}
    )
    return push(scenario, 12, "Make training faster", change)


@pytest.fixture(scope="module")
def improving_push(degrading_pr: PullRequest) -> PullRequest:
    """S3 + S5: a second push on that PR; on 3,000 rows main's boosted trees overfit, and the
    push switches to the linear model, which beats them."""
    change = _set_params(train={"model": "linear", "hyperparams": {}})
    return push(degrading_pr.scenario, 12, "Use the linear model instead", change)


def test_degrading_pr_fails_the_gate_and_the_check(degrading_pr: PullRequest) -> None:
    run = degrading_pr.ci
    assert model_steps(run) == {
        "data": "success",
        "train": "success",
        "baseline": "success",
        "gate": "failure",
        "report": "success",
    }, run.describe()
    assert run.result(PIPELINE) == "failure", run.describe()
    verdict = check_verdict(degrading_pr.scenario, run)
    assert verdict.returncode != 0
    assert "not all green: pipeline" in verdict.stderr


def test_degrading_pr_gate_names_metric_baseline_candidate_delta_interval_threshold(
    degrading_pr: PullRequest,
) -> None:
    log = degrading_pr.ci.log(PIPELINE, "gate")
    failing = [line for line in log.splitlines() if "fail" in line and "roc_auc" in line]
    assert failing, log[-3000:]
    for word in ("baseline", "candidate", "delta", "threshold"):
        assert word in failing[0].lower(), failing[0]
    assert re.search(r"\bCI \[[-+]\d|interval", failing[0]), failing[0]


def test_degrading_pr_comment_shows_what_got_worse_and_by_how_much(
    degrading_pr: PullRequest,
) -> None:
    comment = degrading_pr.comment()
    markdown = str(comment["markdown"])
    assert comment["target"] == "pr/12"
    head = markdown[:600].lower()
    assert "fail" in head, markdown[:600]
    row = _metric_row(markdown, "roc_auc")
    numbers = re.findall(r"[-+−]?\d+\.\d+", row)
    assert len(numbers) >= 4, row  # baseline, candidate, delta and the interval
    assert re.search(r"[-−]\d", row), row  # a negative delta


def test_improving_push_passes_the_gate(improving_push: PullRequest) -> None:
    run = improving_push.ci
    assert all_passed(run), run.describe()
    log = run.log(PIPELINE, "gate")
    assert "gate: pass" in log, log[-2000:]
    assert check_verdict(improving_push.scenario, run).returncode == 0


def test_improving_push_comment_shows_positive_deltas(improving_push: PullRequest) -> None:
    markdown = str(improving_push.comment()["markdown"])
    assert "pass" in markdown[:600].lower(), markdown[:600]
    row = _metric_row(markdown, "roc_auc")
    assert re.search(r"\+0\.\d*[1-9]", row), row


def test_second_push_updates_the_one_comment_instead_of_adding_another(
    degrading_pr: PullRequest, improving_push: PullRequest
) -> None:
    assert improving_push.report.result("comment") == "success", improving_push.report.describe()
    calls = improving_push.scenario.comments()
    assert [(c["result"], c["target"]) for c in calls] == [
        ("created", "pr/12"),
        ("updated", "pr/12"),
    ]
    assert calls[0]["comment_id"] == calls[1]["comment_id"]
    posted = improving_push.scenario.posted()
    assert len(posted) == 1, posted
    assert posted[0]["body"] == calls[1]["markdown"] != calls[0]["markdown"]
    assert "fail" in str(calls[0]["markdown"])[:600].lower()
    assert "pass" in posted[0]["body"][:600].lower()


def test_second_push_reuses_the_dvc_cache_saved_by_the_first(
    improving_push: PullRequest,
) -> None:
    calls = improving_push.scenario.cache_calls
    # uv's package cache has entries of its own (one per job); these are DVC's.
    dvc = [c for c in calls if c["key"].startswith("dvc-")]
    restores = [c for c in dvc if c["op"] == "restore"]
    assert len(restores) == 2, restores  # the pipeline job, on each push
    # The first push failed its gate and still saved its trained stages for the second.
    first_push = dvc[: dvc.index(restores[1])]
    assert [c["op"] for c in first_push] == ["restore", "save"], dvc
    assert restores[1]["matched"], restores


# --- S4 and S6: a fork PR whose data breaks the contract ----------------------------------------

BAD_ROWS = {"age": 7, "contract": "weekly"}
MARKER = "PR-CODE-RAN"


def _bad_data_from_a_fork(repo: Path) -> None:
    """New data with contract violations, and a Makefile that would betray running PR code."""
    # pylint: disable=import-outside-toplevel
    from mlship.data.generate import generate_churn

    frame = generate_churn(3000, 7, "2026-07", 2)
    frame.loc[frame.index[:3], "age"] = BAD_ROWS["age"]
    frame.loc[frame.index[3:5], "contract"] = BAD_ROWS["contract"]
    (repo / "incoming").mkdir()
    frame.to_csv(repo / "incoming" / "churn.csv", index=False)
    _set_params(data={"path": "incoming/churn.csv"})(repo)
    makefile = repo / "Makefile"
    text = makefile.read_text(encoding="utf-8")
    trap = f"\ttouch {repo.parent / MARKER}\n"
    assert "\t@number=" in text
    text = text.replace("\t@number=", trap + "\t@number=", 1)
    makefile.write_text(text, encoding="utf-8")


@pytest.fixture(scope="module")
def bad_data_fork_pr(tmp_path_factory: pytest.TempPathFactory, act_venv: Path) -> PullRequest:
    """S4 + S6: a PR from a fork adding data that violates the contract, no secrets given."""
    scenario = _scenario(tmp_path_factory, act_venv, "s4-bad-data")
    return push(scenario, 14, "Add July data", _bad_data_from_a_fork, fork=True)


def test_bad_data_fails_the_data_job_listing_each_violation(bad_data_fork_pr: PullRequest) -> None:
    run = bad_data_fork_pr.ci
    assert run.step(PIPELINE, "data") == "failure", run.describe()
    log = run.log(PIPELINE, "data")
    assert "age" in log and "contract" in log, log[-3000:]


def test_bad_data_stops_training_and_gate_but_still_reports(bad_data_fork_pr: PullRequest) -> None:
    run = bad_data_fork_pr.ci
    assert model_steps(run) == DATA_FAILED, run.describe()
    assert "not all green: pipeline" in check_verdict(bad_data_fork_pr.scenario, run).stderr


def test_bad_data_comment_says_validation_failed_and_why(bad_data_fork_pr: PullRequest) -> None:
    markdown = str(bad_data_fork_pr.comment()["markdown"])
    assert "validation" in markdown.lower() and "fail" in markdown.lower(), markdown[:3000]
    assert "`age`" in markdown and "`contract`" in markdown, markdown[:3000]


def test_fork_pr_comment_is_posted_without_secrets_or_pr_code(
    bad_data_fork_pr: PullRequest,
) -> None:
    pr = bad_data_fork_pr
    assert pr.report.result("comment") == "success", pr.report.describe()
    comment = pr.comment()
    assert comment["target"] == "pr/14" and comment["repo_token_given"] is True
    assert comment["tracking_off"] is True
    downloads = [c for c in pr.scenario.artifact_calls() if c["op"] == "download"]
    assert {"name": "mlship-report", "run_id": str(CI_RUN_ID), "token_given": True} in [
        {k: c[k] for k in ("name", "run_id", "token_given")} for c in downloads
    ]
    assert not (pr.scenario.repo.parent / MARKER).exists(), "pr-report ran the PR's Makefile"


def test_fork_pr_report_naming_another_pr_is_not_posted(bad_data_fork_pr: PullRequest) -> None:
    pr = bad_data_fork_pr
    assert any(
        c["method"] == "GET" and str(c["path"]).endswith("/pulls/14") for c in pr.github_calls
    ), pr.github_calls
    comments = len(pr.scenario.comments())
    (number_file,) = (pr.scenario.artifacts / "mlship-report").rglob("pr-number")
    number_file.write_text("15\n", encoding="utf-8")
    other_head = "f" * 40
    report, calls = run_pr_report(pr.scenario, pr.run_payload, {14: "0" * 40, 15: other_head})
    assert report.result("comment") == "failure", report.describe()
    assert f"PR 15 has head '{other_head}'" in report.log("comment"), report.describe()
    assert any(str(c["path"]).endswith("/pulls/15") for c in calls), calls
    assert len(pr.scenario.comments()) == comments


# --- S7-S11: what a PR really changes -- DVC-tracked data, the gate's policy, code, libraries --
# (issue 9). One repository whose main pushed its data to a local-directory DVC remote, named in
# the committed .dvc/config as a team names its bucket; each PR is its own branch off main, and
# the DVC cache store (actions/cache) is shared by all their runs, so main's run-cache is there
# to be (wrongly) restored.

RELABELLED = 0.15
TRAIN_RAN = "Running stage 'train'"


def _relabel(seed: int, push_data: bool) -> Callable[[Path], None]:
    """Relabel 15 % of the rows of the DVC-tracked data, `dvc add` it, and maybe `dvc push`."""

    def change(repo: Path) -> None:
        # pylint: disable=import-outside-toplevel
        import numpy as np
        import pandas as pd

        tool(repo, "mlship", "data")  # main's pinned bytes, as `dvc pull` gives a developer
        frame = pd.read_csv(repo / "data" / "churn.csv")
        flip = np.random.default_rng(seed).random(len(frame)) < RELABELLED
        frame.loc[flip, "churned"] = 1 - frame.loc[flip, "churned"]
        frame.to_csv(repo / "data" / "churn.csv", index=False, lineterminator="\n")
        tool(repo, "dvc", "add", "--quiet", "data")
        if push_data:
            tool(repo, "dvc", "push", "--quiet", "data.dvc")
        fresh_clone_state(repo)

    return change


def _bump_pinned_library(repo: Path) -> None:
    path = repo / "requirements.txt"
    text = path.read_text(encoding="utf-8")
    match = re.search(r"^(scikit-learn==\d+\.\d+\.)(\d+)", text, flags=re.MULTILINE)
    assert match, "requirements.txt pins no scikit-learn version"
    bumped = f"{match.group(1)}{int(match.group(2)) + 1}"
    path.write_text(text[: match.start()] + bumped + text[match.end() :], encoding="utf-8")


def _touch_scoring_module(repo: Path) -> None:
    """A change to a module `train` runs that the old dvc.yaml deps did not list."""
    module = repo / "src" / "mlship" / "model" / "scoring.py"
    module.write_text(
        module.read_text(encoding="utf-8") + "\n# Scores are probabilities.\n", encoding="utf-8"
    )


def _degrade_and_loosen_gate(repo: Path) -> None:
    _set_params(
        train={"hyperparams": {"learning_rate": 0.05, "max_iter": 2, "max_leaf_nodes": 2}},
    )(repo)

    def loosen(params: dict[str, object]) -> None:
        gate = params["gate"]
        assert isinstance(gate, dict)
        for rule in gate["metrics"].values():
            rule["max_drop"] = 0.9
            rule.pop("floor", None)
        gate["inconclusive"] = "pass"

    edit_yaml(repo / "params.yaml", loosen)


@pytest.fixture(scope="module")
def dvc_repo(tmp_path_factory: pytest.TempPathFactory, act_venv: Path) -> Scenario:
    """main with its data pushed to a local DVC remote, committed in .dvc/config."""
    work = tmp_path_factory.mktemp("s7-dvc")
    repo = create_repo(work / "repo", dvc_remote=work / "dvc-remote")
    return Scenario(repo, work, act_venv)


def _pr(repo: Scenario, number: int, message: str, change: Callable[[Path], None]) -> PullRequest:
    git(repo.repo, "checkout", "--quiet", "main")
    return push(repo, number, message, change, branch=f"pr-{number}")


@pytest.fixture(scope="module")
def main_ci(dvc_repo: Scenario) -> ActRun:
    """CI of the push to main (the pipeline job): once its train step passed it saves main's DVC
    cache and run-cache, which every pull request's pipeline then restores, as on GitHub."""
    git(dvc_repo.repo, "checkout", "--quiet", "main")
    sha = git(dvc_repo.repo, "rev-parse", "HEAD")
    payload = {
        "ref": "refs/heads/main",
        "before": "0" * 40,
        "after": sha,
        "head_commit": {"id": sha},
        "repository": {"full_name": "acme/mlship", "name": "mlship", "default_branch": "main"},
    }
    run = dvc_repo.act("push", "ci.yml", payload, job=PIPELINE)
    assert run.step(PIPELINE, "train") == "success", run.describe()
    saved = [c for c in dvc_repo.cache_calls if c["op"] == "save" and c["key"].startswith("dvc-")]
    assert saved, dvc_repo.cache_calls
    return run


@pytest.fixture(scope="module")
def pushed_data_pr(dvc_repo: Scenario, main_ci: ActRun) -> PullRequest:
    """S7: relabelled data, `dvc add` + `dvc push`, data.dvc committed."""
    assert main_ci
    return _pr(dvc_repo, 21, "Relabel churn (pushed)", _relabel(seed=21, push_data=True))


@pytest.fixture(scope="module")
def unpushed_data_pr(dvc_repo: Scenario, pushed_data_pr: PullRequest) -> PullRequest:
    """S8: other relabelled data, `dvc add` and data.dvc committed, but never pushed."""
    assert pushed_data_pr  # runs after S7: the shared cache holds S7's data, not S8's
    return _pr(dvc_repo, 22, "Relabel churn (not pushed)", _relabel(seed=22, push_data=False))


@pytest.fixture(scope="module")
def loosened_policy_pr(dvc_repo: Scenario, unpushed_data_pr: PullRequest) -> PullRequest:
    """S9: a PR that makes the model worse and loosens its own gate to let it through."""
    assert unpushed_data_pr
    return _pr(dvc_repo, 23, "Faster training, gate relaxed", _degrade_and_loosen_gate)


@pytest.fixture(scope="module")
def missed_module_pr(dvc_repo: Scenario, loosened_policy_pr: PullRequest) -> PullRequest:
    """S10: a change to model/scoring.py only, with main's run-cache in the restored cache."""
    assert loosened_policy_pr
    return _pr(dvc_repo, 24, "Comment scoring", _touch_scoring_module)


@pytest.fixture(scope="module")
def library_bump_pr(dvc_repo: Scenario, missed_module_pr: PullRequest) -> PullRequest:
    """S11: a Dependabot-style bump of the pinned scikit-learn in requirements.txt."""
    assert missed_module_pr
    return _pr(dvc_repo, 25, "Bump scikit-learn", _bump_pinned_library)


def test_pushed_dvc_data_reaches_every_job_and_the_gate_judges_it(
    pushed_data_pr: PullRequest,
) -> None:
    run = pushed_data_pr.ci
    steps = model_steps(run)
    assert (steps["data"], steps["train"]) == ("success", "success"), run.describe()
    log = run.log(PIPELINE, "data")
    assert "restored from DVC remote 'storage'" in log, log[-3000:]
    gate_log = run.log(PIPELINE, "baseline") + run.log(PIPELINE, "gate")
    assert "held-out rows differ from main's" in gate_log, gate_log[-3000:]
    assert "git add data.dvc" not in run.log(PIPELINE, "train") + log
    markdown = str(pushed_data_pr.comment()["markdown"])
    assert "the data did not change" not in markdown, markdown[:3000]
    assert "Target `churned`" in markdown and "⚠️" in markdown, markdown[:4000]


def test_pushed_dvc_data_relabelled_pr_is_red_and_says_why(pushed_data_pr: PullRequest) -> None:
    run = pushed_data_pr.ci
    assert run.step(PIPELINE, "gate") == "failure", run.describe()
    assert check_verdict(pushed_data_pr.scenario, run).returncode != 0
    head = str(pushed_data_pr.comment()["markdown"])[:1500]
    assert "Metric gate: fail" in head and "re-scored" in head, head


def test_unpushed_dvc_data_fails_the_data_step_naming_file_hash_and_fix(
    unpushed_data_pr: PullRequest,
) -> None:
    run = unpushed_data_pr.ci
    assert model_steps(run) == DATA_FAILED, run.describe()
    pinned = yaml.safe_load((unpushed_data_pr.scenario.repo / "data.dvc").read_text("utf-8"))
    log = run.log(PIPELINE, "data")
    for words in ("data/churn.csv", pinned["outs"][0]["md5"], "dvc push", "fork"):
        assert words in log, log[-3000:]
    assert "not all green: pipeline" in check_verdict(unpushed_data_pr.scenario, run).stderr


def test_unpushed_dvc_data_comment_names_the_data_step_and_its_error(
    unpushed_data_pr: PullRequest,
) -> None:
    markdown = str(unpushed_data_pr.comment()["markdown"])
    head = markdown[:2500]
    assert "The data step failed" in head and "dvc push" in head, head
    assert "train step failed" not in markdown.lower() and "no model was trained" not in head


def test_pr_loosening_its_own_gate_is_judged_by_mains_policy_and_red(
    loosened_policy_pr: PullRequest,
) -> None:
    run = loosened_policy_pr.ci
    steps = model_steps(run)
    assert (steps["train"], steps["gate"]) == ("success", "failure"), run.describe()
    markdown = str(loosened_policy_pr.comment()["markdown"])
    head = markdown[:2500]
    assert "Metric gate: fail" in head, head
    assert "this PR changes the gate policy; it takes effect after merge" in head, head
    assert "`gate.inconclusive` fail → pass" in head, head


@pytest.fixture(scope="module")
def readme_pr(dvc_repo: Scenario, main_ci: ActRun) -> PullRequest:
    """S12: a README-only change, with main's cache restored."""
    assert main_ci

    def change(repo: Path) -> None:
        readme = repo / "README.md"
        readme.write_text(readme.read_text(encoding="utf-8") + "\nA note.\n", encoding="utf-8")

    return _pr(dvc_repo, 26, "Reword the README", change)


def test_readme_only_pr_is_green_without_retraining(readme_pr: PullRequest) -> None:
    run = readme_pr.ci
    assert all_passed(run), run.describe()
    log = run.log(PIPELINE, "train")
    assert TRAIN_RAN not in log and "cached - skipping run" in log, log[-3000:]
    markdown = str(readme_pr.comment()["markdown"])
    assert "Metric gate: pass" in markdown[:800] and "no metric change" in markdown, markdown[:800]
    assert "the data did not change" in markdown, markdown[:4000]


def _retrained_and_passed(pr: PullRequest) -> str:
    """Assert every pipeline step is green and `train` really ran; return the comment."""
    run = pr.ci
    assert all_passed(run), run.describe()
    log = run.log(PIPELINE, "train")
    assert TRAIN_RAN in log, log[-3000:]
    markdown = str(pr.comment()["markdown"])
    assert "Metric gate: pass" in markdown[:800], markdown[:800]
    return markdown


def test_change_to_a_module_the_old_deps_missed_retrains(missed_module_pr: PullRequest) -> None:
    assert "no metric change" in _retrained_and_passed(missed_module_pr)


def test_pinned_library_bump_retrains(library_bump_pr: PullRequest) -> None:
    _retrained_and_passed(library_bump_pr)
