"""`make bench-ci` simulates a workflow's job graph: needs in parallel, `check` last, the steps'
outcomes and the jobs' results handed on as GitHub hands them (figures are printed, not tested)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess  # nosec B404
import sys
from pathlib import Path

from path_import import import_file

REPO = Path(__file__).resolve().parents[2]
bench_ci = import_file("mlship_bench_ci", REPO / "benchmarks" / "bench_ci.py")

WORKFLOW = """\
name: t
on: pull_request
permissions: {}
jobs:
  first:
    runs-on: ubuntu-latest
    timeout-minutes: 5
    steps:
      - id: hello
        run: make help
  second:
    needs: first
    runs-on: ubuntu-latest
    timeout-minutes: 5
    steps:
      - id: broken
        run: make no-such-target
      - id: after
        run: make help
      - id: anyway
        if: ${{ !cancelled() }}
        run: make help
  check:
    needs: [first, second]
    if: ${{ always() }}
    runs-on: ubuntu-latest
    timeout-minutes: 5
    steps:
      - run: make all-green
        env:
          NEEDS_JSON: ${{ toJSON(needs) }}
"""


def test_bench_ci_runs_the_graph_and_names_the_critical_path_and_what_failed(
    tmp_path: Path,
) -> None:
    workflow = tmp_path / "t.yml"
    workflow.write_text(WORKFLOW, encoding="utf-8")
    proc = subprocess.run(  # nosec B603
        [sys.executable, str(REPO / "benchmarks" / "bench_ci.py"), "--workflow", str(workflow)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    out = proc.stdout
    assert proc.returncode == 1, out + proc.stderr  # `second` failed, so `check` is red
    assert "| first | - |" in out and "| success |" in out, out
    assert "| second | first |" in out and "| check | first, second |" in out, out
    assert "critical path: first -> second -> check" in out, out
    assert "second: `make no-such-target` exited 2" in out, out
    assert "wall time until check is known:" in out, out
    # `check` ran `make all-green` on the results it was handed: it names the failed job.
    kept = Path(re.findall(r"kept in (\S+)", out)[-1])
    try:
        assert "check: `make all-green` exited 2" in out, out
        assert "not all green: second" in (kept / "check.log").read_text(encoding="utf-8")
    finally:
        shutil.rmtree(kept)


def test_a_step_is_handed_the_outcomes_of_the_steps_before_it() -> None:
    job = bench_ci.Job("pipeline", {}, [])
    job.outcomes = {"data": "success", "train": "failure", "gate": "skipped"}
    step = {"env": {"STEPS_JSON": "${{ toJSON(steps) }}", "PR_NUMBER": "${{ x }}"}}
    env = bench_ci.step_env(step, {"pipeline": job}, job)
    steps = json.loads(env["STEPS_JSON"])
    assert {name: value["outcome"] for name, value in steps.items()} == job.outcomes
    assert env["PR_NUMBER"] == "1"


def test_the_pipeline_steps_after_a_failure_are_the_ones_ci_yml_lets_run() -> None:
    jobs = bench_ci.load_jobs(REPO / ".github" / "workflows" / "ci.yml")
    steps = jobs["pipeline"].spec["steps"]
    after_failure = [
        str(s.get("id") or s.get("run") or s["uses"].split("@")[0])
        for s in steps
        if bench_ci.runs_despite_failures(s.get("if"))
    ]
    assert after_failure == [
        "actions/cache/save",
        "report",
        "make pr-number",
        "actions/upload-artifact",
    ]
    assert jobs["check"].needs == ["lint", "format", "security", "test", "pipeline"]


MATRIX = """\
jobs:
  test:
    strategy:
      matrix:
        part: [1/2, 2/2]
    env:
      TEST_SHARD: ${{ matrix.part }} of ${{ strategy.job-total }}
    steps: []
  check:
    needs: test
    steps: []
"""


def test_a_matrix_job_runs_once_per_value_and_fails_its_dependents_if_one_part_fails(
    tmp_path: Path,
) -> None:
    workflow = tmp_path / "m.yml"
    workflow.write_text(MATRIX, encoding="utf-8")
    jobs = bench_ci.load_jobs(workflow)
    assert list(jobs) == ["test (1/2)", "test (2/2)", "check"]
    first, second = bench_ci.instances(jobs, ["test"])
    env = [
        bench_ci.resolve(k, v, job.values)
        for job in (first, second)
        for k, v in job.spec["env"].items()
    ]
    assert env == ["1/2 of 2", "2/2 of 2"]
    names = [job.name for job in bench_ci.in_needs_order(jobs)]
    assert names == ["test (1/2)", "test (2/2)", "check"]
    first.result, second.result = "success", "failure"
    assert bench_ci.needs_result(jobs, "test") == "failure"
    second.result = "success"
    assert bench_ci.needs_result(jobs, "test") == "success"
    first.end, second.end, jobs["check"].end = 10.0, 30.0, 31.0
    assert bench_ci.critical_path(jobs) == ["test (2/2)", "check"]
    assert second.slug == "test-2-2"
