"""Simulate a pull-request run of .github/workflows/ci.yml on this machine and time it.

Every job of the workflow is read from the YAML itself (its `needs:`, `if:`, `env:` and `run:`
steps), so the simulation follows the workflow as it is. On GitHub each job runs on a runner VM
of its own (2 cores on a public repository's `ubuntu-latest`), so the jobs here run one at a
time, each alone on 2 of this machine's cores, and the wall time is computed from the `needs:`
graph: a job starts when the last of its needs ends (GitHub's queueing and VM start-up, a few
seconds per job, are not counted). Running them all at once on one machine's 2 cores would time
a machine GitHub never gives a run, so there is no such mode.

Each job gets what a GitHub job gets: a fresh clone of the project (committed as `main` in a
temporary repository: the pull request is main itself, as for a pull request that changes
neither the pipeline nor its data) and a fresh virtualenv that its own `make install` step
fills from this machine's warm uv cache (the runner restores uv's cache, pruned to the wheels
built from source, and downloads the rest). Artifacts go from job to job as upload-artifact and
download-artifact move them; checkout and setup-python are the clone and this machine's Python.
Other caches (`actions/cache`, `/restore`, `/save` of a path other than uv's) are kept in a
store as the cache service keeps them, newest save wins (what `restore-keys` prefixes find).
Before the timed run the jobs that save such a cache run once, untimed, as main's last push run
did: on GitHub a pull request restores the DVC cache that run saved, so main's baseline and the
unchanged stages come from DVC's run-cache instead of being retrained.

A job with a `strategy.matrix` of lists (ci.yml's test job, split in parts) runs once per
combination, each instance alone on its 2 cores as on its own runner, with its `${{ matrix.* }}`
and `${{ strategy.* }}` values in its `env:`. A job that needs it starts when the last instance
ends, and is handed the result GitHub gives a matrix: failure if any instance failed.

What the simulation lacks: the runner's queue and VM start, downloading wheels uv has not
cached (a warm cache here has every wheel) and the cache service's transfer times. What it
adds: this machine's other load (the load average is printed before and after).

Printed: each job's install and run time and result, its start and end on the graph, the
critical path with the time of each step of its jobs, the wall time until `check` is known
against the 3-minute goal, and the test job's tests against the 2-minute one. The test job runs
what ci.yml says (`make test-fast`, the fast tier); --pytest-args adds pytest options to any
`make test*` step.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import shutil
import subprocess  # nosec B404 - runs git and make with fixed arguments
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
WORKFLOW = REPO / ".github" / "workflows" / "ci.yml"
GOAL_SECONDS = 180.0
TEST_GOAL_SECONDS = 120.0
CORES = 2
# What the expressions of a pull-request run evaluate to here. The audit cannot reach an
# advisory service from this machine (AUDIT_REQUIRED=0 is the documented setting for that);
# secrets are absent, as on a fork's pull request.
SIMULATED_ENV = {"AUDIT_REQUIRED": "0", "PR_NUMBER": "1"}
SKIPPED_ACTIONS = ("actions/checkout", "actions/setup-python")
# The runner's uv cache is this machine's warm one, used as it is.
UV_CACHE = "~/.cache/uv"
EXPRESSION = re.compile(r"\$\{\{.*?\}\}")


@dataclass
class Job:
    """One job of the workflow (one instance of a matrix job), and what happened when it ran."""

    name: str
    spec: dict[str, Any]
    # The ids of the workflow's jobs it needs (every instance of a matrix job).
    needs: list[str]
    # Its workflow job id, and its `${{ matrix.* }}` / `${{ strategy.* }}` values.
    job_id: str = ""
    values: dict[str, str] = field(default_factory=dict)
    # On the graph: start = the latest end of its needs, end = start + its own wall time.
    start: float = 0.0
    end: float = 0.0
    seconds: float = 0.0
    install: float = 0.0
    run: float = 0.0
    result: str = "pending"
    notes: list[str] = field(default_factory=list)
    # Each step that ran a command: (label, seconds); the `steps` context: id -> outcome.
    timings: list[tuple[str, float]] = field(default_factory=list)
    outcomes: dict[str, str] = field(default_factory=dict)

    @property
    def slug(self) -> str:
        """Its name as a file name: `test (1/3)` is `test-1-3` (make breaks on spaces in paths)."""
        return re.sub(r"[^A-Za-z0-9_.-]+", "-", self.name).strip("-")


def matrix_values(job_id: str, spec: dict[str, Any]) -> list[dict[str, str]]:
    """The expression values of each instance of a job: one empty set without a matrix."""
    matrix = (spec.get("strategy") or {}).get("matrix")
    if not matrix:
        return [{}]
    if not isinstance(matrix, dict) or not all(isinstance(v, list) for v in matrix.values()):
        raise SystemExit(f"bench-ci: {job_id}'s matrix must map each key to a list of values")
    combinations = list(itertools.product(*matrix.values()))
    return [
        {
            **{f"matrix.{key}": str(value) for key, value in zip(matrix, combination)},
            "strategy.job-index": str(index),
            "strategy.job-total": str(len(combinations)),
        }
        for index, combination in enumerate(combinations)
    ]


def load_jobs(workflow: Path) -> dict[str, Job]:
    """The workflow's jobs, one per matrix instance, with their `needs`, in file order."""
    data = yaml.safe_load(workflow.read_text(encoding="utf-8"))
    jobs: dict[str, Job] = {}
    for job_id, spec in data["jobs"].items():
        needs = spec.get("needs", [])
        needs = [needs] if isinstance(needs, str) else list(needs)
        for values in matrix_values(job_id, spec):
            shown = [v for k, v in values.items() if k.startswith("matrix.")]
            name = f"{job_id} ({', '.join(shown)})" if shown else job_id
            jobs[name] = Job(name, spec, needs, job_id, values)
    return jobs


def instances(jobs: dict[str, Job], job_ids: list[str]) -> list[Job]:
    """Every instance of the given workflow jobs."""
    return [job for job in jobs.values() if job.job_id in job_ids]


def needs_result(jobs: dict[str, Job], job_id: str) -> str:
    """`needs.<id>.result` as GitHub gives it: a matrix fails when one of its instances did."""
    results = {job.result for job in instances(jobs, [job_id])}
    for result in ("failure", "cancelled", "pending"):
        if result in results:
            return result
    return "skipped" if results == {"skipped"} else "success"


def resolve(key: str, value: object, values: dict[str, str]) -> str:
    """An `env:` value with its matrix and strategy expressions filled in; any other
    expression is what a pull-request run here evaluates it to (SIMULATED_ENV, else empty)."""
    text = EXPRESSION.sub(lambda m: values.get(m.group(0)[3:-2].strip(), m.group(0)), str(value))
    return SIMULATED_ENV.get(key, "") if EXPRESSION.search(text) else text


def runs_despite_failures(condition: object) -> bool:
    """Whether an `if:` lets a job or step run after something it follows failed."""
    text = str(condition or "")
    return any(word in text for word in ("always()", "!cancelled()", "failure()"))


def only_on_failure(condition: object) -> bool:
    """Whether an `if:` runs a step only when an earlier one failed (`failure()` alone)."""
    text = str(condition or "")
    return "failure()" in text and not runs_despite_failures(text.replace("failure()", ""))


def step_env(step: dict[str, Any], jobs: dict[str, Job], job: Job) -> dict[str, str]:
    """A step's `env:`, with each `${{ }}` value as a pull-request run here would have it."""
    env: dict[str, str] = {}
    for key, value in (step.get("env") or {}).items():
        text = str(value)
        if text.replace(" ", "") == "${{toJSON(needs)}}":
            text = json.dumps({n: {"result": needs_result(jobs, n)} for n in job.needs})
        elif text.replace(" ", "") == "${{toJSON(steps)}}":
            text = json.dumps(
                {i: {"outcome": o, "conclusion": o, "outputs": {}} for i, o in job.outcomes.items()}
            )
        else:
            text = resolve(key, text, job.values)
        env[key] = text
    return env


def clean_environment() -> dict[str, str]:
    """This process's environment without any virtualenv: each job must use its own."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env = {k: v for k, v in env.items() if not k.startswith("MAKE") and k != "MFLAGS"}
    paths = env.get("PATH", "").split(os.pathsep)
    # os.path.isfile, not Path.exists: an ordinary user's PATH may name a directory it cannot
    # read (root's pyenv shims), where Path.exists raises PermissionError.
    env["PATH"] = os.pathsep.join(
        p for p in paths if not os.path.isfile(Path(p).parent / "pyvenv.cfg")
    )
    env.pop("MLFLOW_TRACKING_URI", None)
    # A hosted runner writes bytecode: without it every process recompiles every module it imports.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["CI"] = "true"
    return env


def upload(workspace: Path, store: Path, step: dict[str, Any]) -> str | None:
    """upload-artifact: the paths, relative to their common directory; an error or None."""
    spec = step.get("with", {})
    paths = [workspace / line.strip() for line in str(spec["path"]).splitlines() if line.strip()]
    present = [p for p in paths if p.exists()]
    if not present:
        return None if spec.get("if-no-files-found", "warn") != "error" else "no files"
    root = Path(os.path.commonpath(present))
    if len(present) == 1 and present[0].is_file():
        root = root.parent
    dest = store / str(spec["name"])
    shutil.rmtree(dest, ignore_errors=True)
    for path in present:
        target = dest / path.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        copy = shutil.copytree if path.is_dir() else shutil.copy2
        copy(path, target)
    return None


def download(workspace: Path, store: Path, step: dict[str, Any]) -> str | None:
    """download-artifact into `path`; an error or None."""
    spec = step.get("with", {})
    source = store / str(spec["name"])
    if not source.is_dir():
        return f"artifact {spec['name']} not found"
    shutil.copytree(source, workspace / str(spec.get("path", ".")), dirs_exist_ok=True)
    return None


def cache_step(uses: str) -> str | None:
    """What a cache action does: "restore", "save", or "both" (actions/cache); None if none."""
    if not uses.startswith("actions/cache"):
        return None
    kind = uses.split("@")[0].removeprefix("actions/cache").strip("/")
    return kind or "both"


def saves_cache(job: Job) -> bool:
    """Whether the job saves a cache other than uv's (one a later run restores)."""
    return any(
        cache_step(str(step.get("uses", ""))) in ("save", "both")
        and str(step.get("with", {}).get("path")) != UV_CACHE
        for step in job.spec.get("steps", [])
    )


def in_needs_order(jobs: dict[str, Job]) -> list[Job]:
    """The jobs in file order, each after all of its needs."""
    ordered: list[Job] = []
    while len(ordered) < len(jobs):
        ready = [
            job
            for job in jobs.values()
            if job not in ordered and all(n in ordered for n in instances(jobs, job.needs))
        ]
        if not ready:
            raise SystemExit(
                f"bench-ci: the needs of {sorted(set(jobs) - set(ordered))} form a cycle"
            )
        ordered.append(ready[0])
    return ordered


class Simulation:
    """One run of the workflow: a shared origin repository, artifacts and caches."""

    def __init__(self, jobs: dict[str, Job], work: Path, pytest_args: str) -> None:
        self.jobs, self.work, self.pytest_args = jobs, work, pytest_args
        self.origin, self.artifacts = work / "origin", work / "artifacts"
        self.caches = work / "caches"
        self.base_env = clean_environment()

    def run_job(self, job: Job, workflow_env: dict[str, str], label: str = "") -> None:
        """Run the job alone (unless a need failed and its `if:` does not allow it); time it."""
        failed_needs = [n for n in job.needs if needs_result(self.jobs, n) != "success"]
        started = time.monotonic()
        if failed_needs and not runs_despite_failures(job.spec.get("if")):
            job.result = "skipped"
        else:
            self.steps(job, workflow_env, label)
        job.seconds = time.monotonic() - started
        job.start = max((n.end for n in instances(self.jobs, job.needs)), default=0.0)
        job.end = job.start + job.seconds
        print(
            f"  {label}{job.name}: {job.result} in {job.seconds:.1f} s "
            f"(install {job.install:.1f} s, run {job.run:.1f} s)",
            flush=True,
        )

    def steps(self, job: Job, workflow_env: dict[str, str], label: str) -> None:
        """Run the job's steps as the runner would, timing install and run steps apart."""
        workspace = self.work / "jobs" / f"{label}{job.slug}"
        subprocess.run(
            ["git", "clone", "--quiet", str(self.origin), str(workspace)], check=True
        )  # nosec B603 B607
        env = {
            **self.base_env,
            **workflow_env,
            **{k: resolve(k, v, job.values) for k, v in job.spec.get("env", {}).items()},
        }
        failed = False
        saved_on_success: list[dict[str, Any]] = []
        log = (self.work / f"{label}{job.slug}.log").open("w", encoding="utf-8")
        for step in job.spec.get("steps", []):
            condition = step.get("if")
            if (failed and not runs_despite_failures(condition)) or (
                only_on_failure(condition) and not failed
            ):
                if "id" in step:
                    job.outcomes[str(step["id"])] = "skipped"
                continue
            if cache_step(str(step.get("uses", ""))) == "both":
                saved_on_success.append(step)  # actions/cache saves in its post step
            error = self.step(job, step, workspace, {**env, **step_env(step, self.jobs, job)}, log)
            if "id" in step:
                job.outcomes[str(step["id"])] = "failure" if error else "success"
            if error and not step.get("continue-on-error"):
                failed = True
                job.notes.append(error)
        log.close()
        if not failed:
            for step in saved_on_success:
                self.cache(step, workspace, "save")
        job.result = "failure" if failed else "success"

    def cache(self, step: dict[str, Any], workspace: Path, action: str) -> None:
        """Restore or save the step's path in the store (the newest save is what is restored)."""
        path = str(step.get("with", {}).get("path", ""))
        if path == UV_CACHE:
            return
        kept = self.caches / path.replace("/", "%")
        if action == "save" and (workspace / path).is_dir():
            shutil.rmtree(kept, ignore_errors=True)
            shutil.copytree(workspace / path, kept)
        elif action != "save" and kept.is_dir():
            shutil.copytree(kept, workspace / path, dirs_exist_ok=True)

    def step(
        self, job: Job, step: dict[str, Any], workspace: Path, env: dict[str, str], log: Any
    ) -> str | None:
        """Run one step; return an error, or None."""
        uses = str(step.get("uses", ""))
        if uses.startswith("actions/upload-artifact"):
            return upload(workspace, self.artifacts, step)
        if uses.startswith("actions/download-artifact"):
            return download(workspace, self.artifacts, step)
        cache = cache_step(uses)
        if cache:
            self.cache(step, workspace, "save" if cache == "save" else "restore")
            return None
        if uses.startswith(SKIPPED_ACTIONS) or "run" not in step:
            return None
        command = str(step["run"]).strip()
        target = command.split()[1] if command.startswith("make ") else ""
        if target.startswith("test") and "PYTEST_ARGS" not in env:
            env = {**env, "PYTEST_ARGS": self.pytest_args}
        started = time.monotonic()
        result = subprocess.run(
            ["bash", "-eo", "pipefail", "-c", command],
            cwd=workspace,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            check=False,
        )  # nosec B603 B607
        seconds = time.monotonic() - started
        if target == "install":
            job.install += seconds
        else:
            job.run += seconds
        job.timings.append((str(step.get("id") or target or command), seconds))
        return f"`{command}` exited {result.returncode}" if result.returncode else None


def critical_path(jobs: dict[str, Job]) -> list[str]:
    """The chain of `needs` that ends last: the path that decides the wall time."""
    job = max(jobs.values(), key=lambda job: job.end)
    chain = [job.name]
    while job.needs:
        job = max(instances(jobs, job.needs), key=lambda need: need.end)
        chain.append(job.name)
    return chain[::-1]


def copy_project(dest: Path) -> None:
    """Copy the project's tracked and new files into `dest` and commit them as `main`."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    ).stdout  # nosec B603 B607
    for name in filter(None, listed.split("\0")):
        if (REPO / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, dest / name)
    identity = ["-c", "user.name=bench", "-c", "user.email=bench@example.invalid"]
    for command in (
        ["init", "--quiet", "--initial-branch=main"],
        ["add", "--all"],
        [*identity, "commit", "--quiet", "--message", "bench"],
    ):
        subprocess.run(["git", *command], cwd=dest, check=True)  # nosec B603 B607


def print_report(jobs: dict[str, Job], work: Path) -> float:
    """Print the per-job table and the critical path; return the wall time until `check`."""
    print("\n| job | needs | install s | run s | job s | start s | end s | result |")
    print("|---|---|---:|---:|---:|---:|---:|---|")
    for job in jobs.values():
        print(
            f"| {job.name} | {', '.join(job.needs) or '-'} | {job.install:.1f} | {job.run:.1f} "
            f"| {job.seconds:.1f} | {job.start:.1f} | {job.end:.1f} | {job.result} |"
        )
    for job in jobs.values():
        for note in job.notes:
            print(f"  {job.name}: {note} (log: {work / (job.slug + '.log')})")
    chain = critical_path(jobs)
    wall = max(job.end for job in jobs.values())
    print(f"\ncritical path: {' -> '.join(chain)}")
    for name in chain:
        steps = ", ".join(f"{label} {seconds:.1f}" for label, seconds in jobs[name].timings)
        print(f"  {name} {jobs[name].seconds:.1f} s ({steps or 'no command'})")
    verdict = "within" if wall <= GOAL_SECONDS else "over"
    goal = f"{verdict} the {GOAL_SECONDS:.0f} s goal"
    print(f"wall time until {chain[-1]} is known: {wall:.1f} s, {goal}")
    for test in instances(jobs, ["test"]):
        verdict = "within" if test.run <= TEST_GOAL_SECONDS else "over"
        goal = f"{verdict} the {TEST_GOAL_SECONDS:.0f} s goal"
        print(f"{test.name} job: {test.run:.1f} s of tests, {goal}")
    return wall


def main(argv: list[str] | None = None) -> int:
    """Simulate the workflow and print the figures; non-zero if a job failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workflow", type=Path, default=WORKFLOW)
    parser.add_argument("--pytest-args", default="-q -p no:cacheprovider")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)
    cpus = sorted(os.sched_getaffinity(0))[:CORES]
    os.sched_setaffinity(0, cpus)  # inherited by every job's processes
    jobs = load_jobs(args.workflow)
    workflow_env = {
        k: str(v)
        for k, v in (yaml.safe_load(args.workflow.read_text("utf-8")).get("env") or {}).items()
    }
    work = Path(tempfile.mkdtemp(prefix="mlship-bench-ci-"))
    copy_project(work / "origin")
    print(f"simulating {args.workflow.name} in {work}: one job at a time on CPUs {cpus}")
    print(f"load average before: {os.getloadavg()[0]:.1f}")
    simulation = Simulation(jobs, work, args.pytest_args)
    warm = [job for job in jobs.values() if saves_cache(job)]
    if warm:
        # Main's last push run, whose caches (DVC's) a pull request restores: untimed.
        print(
            f"warming the caches main's push run saves (untimed): {', '.join(j.name for j in warm)}"
        )
        for job in warm:
            simulation.run_job(
                Job(job.name, job.spec, [], job.job_id, job.values), workflow_env, "main-"
            )
    for job in in_needs_order(jobs):
        simulation.run_job(job, workflow_env)
    print_report(jobs, work)
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    passed = all(job.result in ("success", "skipped") for job in jobs.values())
    if passed and not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    elif not passed:
        print(f"a job failed: its log and workspace are kept in {work}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
