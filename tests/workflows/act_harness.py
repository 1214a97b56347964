"""Run the real workflow files under act (self-hosted platform, offline) on scenario repositories.

A scenario repository is a copy of this project (tracked and new files, as they are now) with a
`main` commit and a pull-request branch on top. act runs a workflow from it on the host; pinned
third-party actions are replaced by the local stand-ins in tests/workflows/actions/, selected
from the `uses:` pins of the workflow files themselves; a pin is mapped only when
tests/workflows/upstream/pins.json records it as verified against the upstream release tag its
`# vX.Y.Z` comment names (tools/pin_action.py writes that record). Artifacts live in one
directory per scenario (GitHub's artifact storage, shared by the CI run and the pr-report run)
and the `cml` stand-in records every comment it is asked to post.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess  # nosec B404 - runs git and act with fixed arguments
import sys
import sysconfig
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tiers
import yaml

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
STANDINS = HERE / "actions"
UPSTREAM = HERE / "upstream"
PINS = UPSTREAM / "pins.json"
EVENTS = HERE / "events"
ACT = Path(sys.executable).parent / "act"
WORKFLOWS = REPO / ".github" / "workflows"
# How a job names a reusable workflow of the same repository.
LOCAL_WORKFLOW = "./.github/workflows/"
GITHUB_REPOSITORY = "acme/mlship"
# Far future: the prepared virtualenv counts as installed, so `make` never reinstalls into it.
INSTALLED_MTIME = 4_102_444_800  # 2100-01-01
# The Makefile's install groups: a job's GROUPS installs each into VENV with a marker file.
ALL_GROUPS = re.compile(r"^ALL_GROUPS := (.+)$", re.MULTILINE)
# owner/repo, then the sub-action's directory in it if any (actions/cache/save), commit, tag.
USES = re.compile(r"uses:\s*([\w.-]+/[\w.-]+)((?:/[\w.-]+)*)@([0-9a-f]{40})(?:\s+#\s*(\S+))?")
GIT_ENV = {
    "GIT_AUTHOR_NAME": "mlship tests",
    "GIT_AUTHOR_EMAIL": "tests@example.invalid",
    "GIT_COMMITTER_NAME": "mlship tests",
    "GIT_COMMITTER_EMAIL": "tests@example.invalid",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


@dataclass(frozen=True)
class Pin:
    """One `uses: owner/repo[/dir]@sha # vX.Y.Z` line of a workflow."""

    workflow: str
    action: str  # owner/repo: the repository the commit and tag belong to
    commit: str
    tag: str
    subdir: str = ""  # a sub-action's directory in that repository (`save` in actions/cache/save)

    @property
    def uses(self) -> str:
        """What the step names before `@`: the action, or the sub-action inside it."""
        return f"{self.action}/{self.subdir}" if self.subdir else self.action


def workflow_pins() -> list[Pin]:
    """Every SHA-pinned `uses:` of the workflow files, in file order."""
    return [
        Pin(workflow.name, name, sha, tag, subdir.strip("/"))
        for workflow in sorted(WORKFLOWS.glob("*.yml"))
        for name, subdir, sha, tag in USES.findall(workflow.read_text(encoding="utf-8"))
    ]


def load_workflow(path: Path) -> dict[str, Any]:
    """A workflow as data (PyYAML reads the `on` key as True)."""
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    if True in data:
        data["on"] = data.pop(True)
    return data


def called_workflow(root: Path, job: dict[str, Any]) -> Path | None:
    """The file of the local reusable workflow a job calls (`uses: ./.github/workflows/x.yml`)."""
    uses = str(job.get("uses", ""))
    return root / uses.removeprefix("./") if uses.startswith(LOCAL_WORKFLOW) else None


def job_steps(root: Path, workflow: Path) -> dict[str, list[dict[str, Any]]]:
    """Each job's steps; a job calling a local reusable workflow runs the steps of its jobs."""
    found: dict[str, list[dict[str, Any]]] = {}
    for job_id, job in load_workflow(workflow)["jobs"].items():
        called = called_workflow(root, job)
        if called is None:
            found[job_id] = list(job.get("steps", []))
        else:
            jobs = load_workflow(called)["jobs"].values()
            found[job_id] = [step for inner in jobs for step in inner.get("steps", [])]
    return found


def callers(root: Path, workflow: Path) -> dict[str, str]:
    """Each job of the reusable workflows this one calls -> the id of the job calling it.

    act logs a called workflow's jobs under their own ids; this map files them under the caller's,
    as GitHub shows `caller / called`. A called job id that another job of the workflow also has
    would be ambiguous in act's log: refused.
    """
    jobs = load_workflow(workflow)["jobs"]
    found: dict[str, str] = {}
    for job_id, job in jobs.items():
        called = called_workflow(root, job)
        if called is None:
            continue
        for inner in load_workflow(called)["jobs"]:
            if inner in found or (inner in jobs and inner != job_id):
                raise AssertionError(
                    f"{workflow.name}: job {inner!r} of {called.name} cannot be told apart "
                    "from another job in act's log; rename one"
                )
            found[inner] = job_id
    return found


def verified_pins() -> dict[str, dict[str, str]]:
    """The pins recorded as checked against upstream: action -> tag, commit, runtime, how."""
    loaded: dict[str, dict[str, str]] = json.loads(PINS.read_text(encoding="utf-8"))
    return loaded


def check_pin(pin: Pin, verified: dict[str, dict[str, str]]) -> None:
    """Refuse a pin whose commit and tag are not the verified ones, or that has no fixture."""
    record = verified.get(pin.action)
    where = f"{pin.workflow}: {pin.uses}@{pin.commit} # {pin.tag or '(no version comment)'}"
    if record is None or (record["commit"], record["tag"]) != (pin.commit, pin.tag):
        known = f"{record['commit']} # {record['tag']}" if record else "nothing"
        raise AssertionError(
            f"{where} is not a verified pin (pins.json has {known}); "
            f"run tools/pin_action.py on a clone of github.com/{pin.action} for {pin.tag}"
        )
    if not (UPSTREAM / pin.uses / "action.yml").is_file():
        raise AssertionError(f"{where}: no upstream action.yml in {UPSTREAM / pin.uses}")
    if not (STANDINS / pin.uses / "action.yml").is_file():
        raise AssertionError(f"{where}: no stand-in in {STANDINS / pin.uses}")


def standin_flags() -> list[str]:
    """`--local-repository` flags: each verified SHA-pinned action -> its stand-in.

    A sub-action (actions/cache/save) is the directory of that name in its repository's
    stand-in, as act reads it from the real repository.
    """
    verified = verified_pins()
    flags: set[str] = set()
    for pin in workflow_pins():
        check_pin(pin, verified)
        flags.add(f"{pin.action}@{pin.commit}={STANDINS / pin.action}")
    return [arg for flag in sorted(flags) for arg in ("--local-repository", flag)]


def install_groups() -> list[str]:
    """The install groups the Makefile declares (ALL_GROUPS)."""
    found = ALL_GROUPS.search((REPO / "Makefile").read_text(encoding="utf-8"))
    if found is None:
        raise AssertionError("the Makefile declares no ALL_GROUPS")
    return found.group(1).split()


def make_act_venv(dest: Path) -> Path:
    """A virtualenv that reuses this session's installed packages and console scripts.

    The Makefile's VENV points at it, with its install markers dated in the future, so no job
    installs anything; the packages come from the running virtualenv through a .pth file, and each
    console script is a wrapper that runs it with this interpreter.
    """
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(dest)], check=True)
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    site = dest / "lib" / version / "site-packages"
    shared_site = sysconfig.get_paths()["purelib"]
    (site / "_mlship_shared.pth").write_text(
        f"import site; site.addsitedir({shared_site!r})\n", encoding="utf-8"
    )
    shared_bin = Path(sys.executable).parent
    for script in sorted(shared_bin.iterdir()):
        target = dest / "bin" / script.name
        if target.exists() or not script.is_file() or not os.access(script, os.X_OK):
            continue
        with script.open("rb") as handle:
            first = handle.readline()
        if first.startswith(b"#!") and b"python" in first:
            target.write_text(
                f'#!/bin/sh\nexec "{dest}/bin/python" "{script}" "$@"\n', encoding="utf-8"
            )
            target.chmod(0o755)
        else:
            target.symlink_to(script)
    # `.installed` for the whole environment, `.installed-<group>` for a job's GROUPS.
    for group in ("", *(f"-{name}" for name in install_groups())):
        installed = dest / f".installed{group}"
        installed.touch()
        os.utime(installed, (INSTALLED_MTIME, INSTALLED_MTIME))
    return dest


def git(repo: Path, *args: str) -> str:
    """Run git in `repo` with a fixed identity; return its stdout."""
    result = subprocess.run(
        ["git", *args],
        cwd=repo,
        env={**os.environ, **GIT_ENV},
        check=True,
        capture_output=True,
        text=True,
    )  # nosec B603 B607
    return result.stdout.strip()


def project_files() -> list[str]:
    """This project's files as they are now: tracked and new, minus what git ignores."""
    listed = git(REPO, "ls-files", "--cached", "--others", "--exclude-standard", "-z")
    return sorted({name for name in listed.split("\0") if name and (REPO / name).is_file()})


def edit_yaml(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    """Load a YAML file, apply `change` to it, and write it back."""
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def small_example(params: dict[str, Any]) -> None:
    """Scenario repositories use a 3,000-row example so each CI run stays short."""
    params["generate"]["rows"] = 3000


def tool(repo: Path, name: str, *args: str) -> str:
    """Run one of this session's console scripts (dvc, mlship) in `repo`; return its stdout."""
    result = subprocess.run(
        [str(Path(sys.executable).parent / name), *args],
        cwd=repo,
        env={**os.environ, **GIT_ENV},
        check=True,
        capture_output=True,
        text=True,
    )  # nosec B603
    return result.stdout.strip()


def fresh_clone_state(repo: Path) -> None:
    """Drop what git does not carry (the data DVC tracks, DVC's cache), as on a fresh clone."""
    for name in ("data", ".dvc/cache", ".dvc/tmp"):
        shutil.rmtree(repo / name, ignore_errors=True)


def create_repo(
    dest: Path, on_main: Callable[[Path], None] = lambda _: None, dvc_remote: Path | None = None
) -> Path:
    """Copy the project into `dest` and commit it as `main` of acme/mlship.

    `data.dvc` pins the scenario's small example, as `dvc add data` records it. With
    `dvc_remote`, a local directory is main's DVC remote (committed in .dvc/config, as a team
    commits its bucket's URL) and main's data is pushed to it.
    """
    for name in project_files():
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, target)
    edit_yaml(dest / "params.yaml", small_example)
    on_main(dest)
    git(dest, "init", "--quiet", "--initial-branch=main")
    git(dest, "remote", "add", "origin", f"https://github.com/{GITHUB_REPOSITORY}.git")
    tool(dest, "mlship", "data", "--example")
    tool(dest, "dvc", "add", "--quiet", "data")
    if dvc_remote is not None:
        tool(dest, "dvc", "remote", "add", "--default", "storage", str(dvc_remote))
        tool(dest, "dvc", "push", "--quiet", "data.dvc")
    fresh_clone_state(dest)
    git(dest, "add", "--all")
    git(dest, "commit", "--quiet", "--message", "main")
    git(dest, "update-ref", "refs/remotes/origin/main", "HEAD")
    return dest


def push_pr(repo: Path, message: str, change: Callable[[Path], None], branch: str = "pr") -> str:
    """Commit `change` on the PR branch (created from main the first time); return its SHA."""
    current = git(repo, "branch", "--show-current")
    if current != branch:
        git(repo, "checkout", "--quiet", "-B", branch, "main")
    change(repo)
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "--message", message)
    return git(repo, "rev-parse", "HEAD")


def event(template: str, **values: Any) -> dict[str, Any]:
    """An event JSON fixture with its `{placeholders}` filled in."""
    text = (EVENTS / template).read_text(encoding="utf-8")
    for key, value in values.items():
        text = text.replace("{" + key + "}", str(value))
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@dataclass
class ActRun:
    """One act invocation: each job's and each step's result and output, and how long it took."""

    returncode: int
    seconds: float
    declared: dict[str, frozenset[str]] = field(default_factory=dict)  # job -> its step ids
    jobs: dict[str, str] = field(default_factory=dict)
    output: dict[str, list[str]] = field(default_factory=dict)
    stderr: str = ""
    steps: dict[tuple[str, str], str] = field(default_factory=dict)  # (job, step id) -> result
    step_output: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    callers: dict[str, str] = field(default_factory=dict)  # called workflow's job -> caller job

    def result(self, job: str) -> str:
        """`success` or `failure`; a job act never ran (unmet `needs`) is `skipped`."""
        # A renamed job must not pass for one that was skipped.
        assert job in self.declared, f"the workflow has no job {job!r}: {sorted(self.declared)}"
        return self.jobs.get(job, "skipped")

    def step(self, job: str, step: str) -> str:
        """A step's `success` or `failure` (its main part); a step that never ran is `skipped`."""
        ids = self.declared.get(job, frozenset())
        assert step in ids, f"job {job!r} has no step with id {step!r}: {sorted(ids)}"
        return self.steps.get((job, step), "skipped")

    def log(self, job: str, step: str | None = None) -> str:
        """Everything a job's steps printed, or one step (by its id)."""
        if step is None:
            return "".join(self.output.get(job, []))
        self.step(job, step)  # the step exists
        return "".join(self.step_output.get((job, step), []))

    def describe(self) -> str:
        """Job results and the tail of each job's log, for assertion messages."""
        lines = [f"act exit {self.returncode} after {self.seconds:.0f}s: {self.jobs}"]
        for job, chunks in self.output.items():
            lines.append(f"--- {job} ---\n{''.join(chunks)[-3000:]}")
        lines.append(f"--- act stderr ---\n{self.stderr[-2000:]}")
        return "\n".join(lines)


def _record(run: ActRun, record: dict[str, Any]) -> None:
    """File one line of act's JSON log under its job and, for a step with an id, that step."""
    job = run.callers.get(str(record["jobID"]), str(record["jobID"]))
    # The instances of a matrix job (ci.yml's test parts) share its id: as on GitHub, the job
    # fails if one of them failed.
    if "jobResult" in record and run.jobs.get(job) != "failure":
        run.jobs[job] = record["jobResult"]
    if record.get("raw_output"):
        text = str(record.get("msg", ""))
    elif record.get("level") in {"error", "warning"} or "stepResult" in record:
        text = str(record.get("msg", "")) + "\n"
    else:
        return
    run.output.setdefault(job, []).append(text)
    # stepID is the step's id (or its index) and, inside a composite action, the inner step's.
    step_id = record.get("stepID") or []
    if not step_id or str(step_id[0]) not in run.declared.get(job, frozenset()):
        return
    key = (job, str(step_id[0]))
    run.step_output.setdefault(key, []).append(text)
    if "stepResult" in record and len(step_id) == 1 and record.get("stage") == "Main":
        if run.steps.get(key) != "failure":
            run.steps[key] = str(record["stepResult"])


@dataclass
class Scenario:
    """A scenario repository, its work directory and the records of its runs."""

    repo: Path
    work: Path
    act_venv: Path
    runs: int = 0

    @property
    def artifacts(self) -> Path:
        """GitHub's artifact storage for this scenario."""
        return self.work / "artifacts"

    @property
    def cache_calls(self) -> list[dict[str, Any]]:
        """Every restore/save the actions/cache stand-in performed."""
        log = self.work / "cache" / "log.jsonl"
        if not log.exists():
            return []
        return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]

    @property
    def cml_log(self) -> Path:
        """Where the `cml` stand-in records comments."""
        return self.work / "cml.jsonl"

    def act(
        self,
        event_name: str,
        workflow: str,
        payload: dict[str, Any],
        job: str | None = None,
        extra_env: dict[str, str] | None = None,
        timeout: float = 1200,
        secrets: dict[str, str] | None = None,
    ) -> ActRun:
        """Run `act <event_name>` on one workflow file from the repository's checked-out branch."""
        # pylint: disable=too-many-locals
        tiers.require_system("act")
        self.runs += 1
        home = self.work / f"home-{self.runs}"
        home.mkdir(parents=True)
        event_file = self.work / f"event-{self.runs}.json"
        event_file.write_text(json.dumps(payload, indent=2), encoding="utf-8")
        env_vars = {
            "MLSHIP_ACT_VENV": str(self.act_venv),
            "MLSHIP_ACT_HARNESS": str(HERE),
            "MLSHIP_ACT_ARTIFACTS": str(self.artifacts),
            "MLSHIP_ACT_CACHE": str(self.work / "cache"),
            "MLSHIP_ACT_REPO": str(self.repo),
            "MLSHIP_CML_LOG": str(self.cml_log),
            "GIT_CONFIG_GLOBAL": os.devnull,
            **(extra_env or {}),
        }
        command = [
            str(ACT),
            event_name,
            "--workflows",
            f".github/workflows/{workflow}",
            "--eventpath",
            str(event_file),
            "--platform",
            "ubuntu-latest=-self-hosted",
            "--json",
            # GitHub always provides GITHUB_TOKEN, fork PRs included; no other secret is given.
            "--secret",
            "GITHUB_TOKEN=ghs_stand_in_token",
            # No advisory service is reachable here: the audit warns instead of failing.
            "--var",
            "AUDIT_REQUIRED=0",
            *standin_flags(),
        ]
        for key, value in env_vars.items():
            command += ["--env", f"{key}={value}"]
        for key, value in (secrets or {}).items():
            command += ["--secret", f"{key}={value}"]
        if job:
            # act runs the job and every job it needs, like GitHub for a partial graph.
            command += ["--job", job]
        # A clean environment: nothing of the developer's (MLflow server, tokens) leaks in.
        env = {
            "PATH": os.environ["PATH"],
            "HOME": str(home),
            "LANG": "C.UTF-8",
            "TMPDIR": str(self.work),
        }
        start = time.monotonic()
        proc = subprocess.run(
            command,
            cwd=self.repo,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )  # nosec B603
        path = self.repo / ".github" / "workflows" / workflow
        declared = {
            name: frozenset(str(s["id"]) for s in steps if "id" in s)
            for name, steps in job_steps(self.repo, path).items()
        }
        run = ActRun(proc.returncode, time.monotonic() - start, declared, stderr=proc.stderr)
        run.callers = callers(self.repo, path)
        for line in proc.stdout.splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if record.get("jobID"):
                _record(run, record)
        (self.work / f"act-{self.runs}.log").write_text(run.describe(), encoding="utf-8")
        return run

    def comments(self) -> list[dict[str, Any]]:
        """Every `cml comment` call recorded so far, oldest first."""
        if not self.cml_log.exists():
            return []
        lines = self.cml_log.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines]

    def posted(self) -> list[dict[str, Any]]:
        """The comments as they stand on GitHub (after updates)."""
        state = Path(f"{self.cml_log}.state.json")
        if not state.exists():
            return []
        loaded: list[dict[str, Any]] = json.loads(state.read_text(encoding="utf-8"))
        return loaded

    def artifact_calls(self) -> list[dict[str, Any]]:
        """Every upload/download the artifact stand-ins received."""
        log = self.artifacts / "log.jsonl"
        if not log.exists():
            return []
        return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
