"""Wall time of each pull-request CI job's make targets on this machine, dependencies installed.

The project is copied (tracked and new files) into a temporary git repository whose `main` is
that copy, so the gate compares against an unchanged main, as on most pull requests; the
working tree is never touched. Each job's targets run one after the other with the installed
virtualenv (nothing is installed). The table gives each job, the serial total, and the
critical path GitHub would see with the jobs running in parallel, against the 3-minute goal.

The `test` job runs the fast test tier (`make test-fast`), as ci.yml does; the system tier,
which includes the act scenarios that run CI itself, has its own workflow (system.yml).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess  # nosec B404 - runs git and make with fixed arguments
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GOAL_SECONDS = 180.0
# Each CI job and the make targets its run steps call, in order (see .github/workflows/ci.yml).
JOBS: dict[str, tuple[str, ...]] = {
    "lint": ("lint", "typecheck"),
    "format": ("format-check",),
    "security": ("security", "workflow-lint"),
    "test": ("test-fast",),
    "data": ("validate",),
    "train": ("smoke",),
    "gate": ("baseline", "gate"),
    "report": ("report",),
}
# Jobs that wait for others: the critical path is the longest chain through these.
NEEDS: dict[str, tuple[str, ...]] = {"train": ("data",), "gate": ("train",)}
REPORT_NEEDS = ("data", "train", "gate")


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


def time_job(root: Path, targets: tuple[str, ...], env: dict[str, str]) -> tuple[float, int]:
    """Run the targets in order; return the wall time and the first non-zero exit code."""
    venv = Path(env["VENV"])
    started = time.monotonic()
    code = 0
    for target in targets:
        # -o: the virtualenv is installed already; never let make reinstall into it.
        command = ["make", "--no-print-directory", "-o", str(venv / ".installed"), target]
        result = subprocess.run(
            command,
            cwd=root,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            check=False,
        )  # nosec B603 B607
        if result.returncode != 0:
            tail = result.stderr.decode(errors="replace").strip().splitlines()[-5:]
            print(f"  make {target} exited {result.returncode}: " + " | ".join(tail))
            code = code or result.returncode
    return time.monotonic() - started, code


def critical_path(seconds: dict[str, float]) -> float:
    """Wall time with independent jobs in parallel: the longest chain of `needs`."""
    finish: dict[str, float] = {}
    for job in JOBS:
        if job == "report":
            continue
        start = max((finish[need] for need in NEEDS.get(job, ())), default=0.0)
        finish[job] = start + seconds[job]
    report_start = max(finish[need] for need in REPORT_NEEDS)
    return max([*finish.values(), report_start + seconds["report"]])


def main(argv: list[str] | None = None) -> int:
    """Time every CI job and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pytest-args", default="-q -p no:cacheprovider")
    parser.add_argument("--keep", action="store_true", help="keep the temporary copy")
    args = parser.parse_args(argv)
    venv = Path(sys.prefix)
    work = Path(tempfile.mkdtemp(prefix="mlship-bench-ci-"))
    root = work / "repo"
    copy_project(root)
    env = {
        **os.environ,
        "VENV": str(venv),
        "PYTHONPATH": str(root / "src"),  # the copy's code, as an install of it would give
        "PYTEST_ARGS": args.pytest_args,
        "AUDIT_REQUIRED": "0",
    }
    env.pop("MLFLOW_TRACKING_URI", None)
    seconds: dict[str, float] = {}
    codes: dict[str, int] = {}
    # Other work on the machine inflates every figure: the load average says how much.
    print(f"timing CI jobs in {root} with {venv} ({os.cpu_count()} CPUs)")
    print(f"load average before: {os.getloadavg()[0]:.1f}")
    for job, targets in JOBS.items():
        seconds[job], codes[job] = time_job(root, targets, env)
        print(f"  {job:<9} {seconds[job]:7.1f} s")
    rows = [
        f"| {job} | {', '.join(f'`make {t}`' for t in targets)} | {seconds[job]:.1f} | "
        + ("ok" if codes[job] == 0 else f"exit {codes[job]}")
        + " |"
        for job, targets in JOBS.items()
    ]
    serial, parallel = sum(seconds.values()), critical_path(seconds)
    print("\n| job | make targets | seconds | result |\n|---|---|---:|---|")
    print("\n".join(rows))
    print(f"| **all jobs, one after the other** | | {serial:.1f} | |")
    print(f"| **critical path (jobs in parallel)** | | {parallel:.1f} | |")
    print(f"\nload average after: {os.getloadavg()[0]:.1f}")
    verdict = "within" if parallel <= GOAL_SECONDS else "over"
    print(f"\ncritical path {parallel:.0f} s: {verdict} the {GOAL_SECONDS:.0f} s goal")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
