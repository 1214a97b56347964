"""The dependency locks and `make install`'s groups: offline checks that the locks are whole.

Every lock is compiled by `make lock` from one input in requirements/ (uv pip compile, hashes
for every file); the checks here need no index: each pin has hashes, each input's names are
locked, each lock is closed under its own `# via` annotations, and every group lock agrees with
the developer lock (requirements-dev.txt) pin for pin, hash for hash. The Makefile side: `make -n`
shows which locks a target installs with GROUPS set, and every CI job's GROUPS covers the targets
it runs.
"""

from __future__ import annotations

import os
import re
import subprocess  # nosec B404 - runs make -n with fixed arguments
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "workflows"))
import act_harness  # noqa: E402  pylint: disable=wrong-import-position

INPUTS = REPO / "requirements"
# Each lock and the input it is compiled from.
LOCKS = {
    REPO / "requirements.txt": INPUTS / "runtime.in",
    REPO / "requirements-dev.txt": INPUTS / "dev.in",
    **{lock: lock.with_suffix(".in") for lock in sorted(INPUTS.glob("*.txt"))},
}
PIN = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>\S+?)(?:\s*;\s*(?P<marker>.+?))?$"
)
HASH = re.compile(r"^--hash=sha256:[0-9a-f]{64}$")


def canonical(name: str) -> str:
    """A distribution name as the index compares it (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass
class Pin:
    """One locked requirement: its version, marker, hashes and what it is required by."""

    version: str
    marker: str | None
    hashes: set[str] = field(default_factory=set)
    via: list[str] = field(default_factory=list)


def read_lock(path: Path) -> dict[str, Pin]:
    """Parse a `uv pip compile --generate-hashes` lock; fail on any line it does not expect."""
    pins: dict[str, Pin] = {}
    current: Pin | None = None
    in_via = False
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip().removesuffix("\\").strip()
        if not raw.startswith(" "):
            in_via = False
            if not line or line.startswith("#"):
                continue
            match = PIN.match(line)
            assert match, f"{path.name}:{number}: not an exact pin: {raw!r}"
            current = Pin(match["version"], match["marker"])
            pins[canonical(match["name"])] = current
        elif current is None:
            raise AssertionError(f"{path.name}:{number}: indented line before any pin: {raw!r}")
        elif line.startswith("--hash="):
            assert HASH.match(line), f"{path.name}:{number}: not a sha256 hash: {raw!r}"
            current.hashes.add(line)
        elif line.startswith("# via"):
            rest = line.removeprefix("# via").strip()
            in_via = not rest
            current.via += [rest] if rest else []
        elif in_via and line.startswith("#   "):
            current.via.append(line.removeprefix("#").strip())
        else:
            raise AssertionError(f"{path.name}:{number}: unexpected line: {raw!r}")
    return pins


def declared(path: Path) -> set[str]:
    """The names an input file requires, following its `-r` includes (not its `-c` constraints)."""
    names: set[str] = set()
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if line.startswith("-r "):
            names |= declared(path.parent / line.removeprefix("-r ").strip())
        elif line and not line.startswith("-"):
            names.add(canonical(re.split(r"[\[<>=!~; ]", line, maxsplit=1)[0]))
    return names


@pytest.mark.parametrize("lock", sorted(LOCKS), ids=lambda p: p.relative_to(REPO).as_posix())
def test_every_pin_is_exact_and_hashed(lock: Path) -> None:
    pins = read_lock(lock)
    assert pins, f"{lock.name} locks nothing"
    unhashed = sorted(name for name, pin in pins.items() if not pin.hashes)
    assert not unhashed, f"{lock.name}: pins without a hash: {unhashed}"


@pytest.mark.parametrize("lock", sorted(LOCKS), ids=lambda p: p.relative_to(REPO).as_posix())
def test_each_lock_is_compiled_from_its_input_by_make_lock(lock: Path) -> None:
    source, relative = LOCKS[lock], lock.relative_to(REPO).as_posix()
    assert source.is_file(), f"{relative} has no input {source.relative_to(REPO)}"
    header = lock.read_text(encoding="utf-8").splitlines()[:2]
    command = header[1].removeprefix("#").strip()
    assert command.startswith("uv pip compile "), f"{relative}: header is not uv's: {header}"
    # The output name must be spelled out: Dependabot pairs a lock with its input by it.
    assert f" {source.relative_to(REPO).as_posix()} " in command, command
    assert command.endswith(f"--output-file={relative}"), command
    for flag in ("--universal", "--python-version 3.11", "--generate-hashes"):
        assert flag in command, f"{relative} was compiled without {flag}"
    recipe = make("-n", "lock").stdout
    assert f"{source.relative_to(REPO).as_posix()} " in recipe, f"make lock skips {relative}"


def test_every_input_has_a_lock() -> None:
    assert sorted(INPUTS.glob("*.in")) == sorted(LOCKS.values())


@pytest.mark.parametrize("lock", sorted(LOCKS), ids=lambda p: p.relative_to(REPO).as_posix())
def test_every_declared_name_is_locked_and_every_pin_is_required(lock: Path) -> None:
    pins = read_lock(lock)
    missing = sorted(declared(LOCKS[lock]) - set(pins))
    assert not missing, f"{lock.name} does not lock {missing}, declared in {LOCKS[lock].name}"
    for name, pin in pins.items():
        assert pin.via, f"{lock.name}: {name} is locked but nothing requires it"
        for parent in pin.via:
            # Either an input file (-r/-c) or another package of the same lock: the lock is closed.
            assert (
                parent.startswith(("-r ", "-c ")) or canonical(parent) in pins
            ), f"{lock.name}: {name} is required by {parent}, which the lock does not pin"


# uv.txt stands apart: pip installs uv from it before any other lock.
@pytest.mark.parametrize(
    "lock",
    [REPO / "requirements.txt", *sorted(set(INPUTS.glob("*.txt")) - {INPUTS / "uv.txt"})],
    ids=lambda p: p.relative_to(REPO).as_posix(),
)
def test_every_lock_agrees_with_the_developer_lock(lock: Path) -> None:
    dev = read_lock(REPO / "requirements-dev.txt")
    for name, pin in read_lock(lock).items():
        assert name in dev, f"{lock.name} locks {name}, which requirements-dev.txt does not"
        assert (pin.version, pin.hashes) == (dev[name].version, dev[name].hashes), (
            f"{lock.name} locks {name}=={pin.version}, requirements-dev.txt {dev[name].version}"
            " (or other hashes): run make lock"
        )


def test_the_runtime_lock_is_the_developer_locks_runtime_part() -> None:
    runtime, dev = read_lock(REPO / "requirements.txt"), read_lock(REPO / "requirements-dev.txt")
    via_runtime = {name for name, pin in dev.items() if "-r requirements/runtime.in" in pin.via}
    assert via_runtime <= set(runtime)


def make(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`make` in the repository with the given variables in its environment."""
    variables = {k: v for k, v in os.environ.items() if k not in ("GROUPS", "MAKEFLAGS")}
    return subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=REPO,
        env={**variables, **env},
        capture_output=True,
        text=True,
        check=False,
    )  # nosec B603 B607


def installs(output: str) -> list[str]:
    """The locks (and the editable package) that a `make -n` run would install."""
    found: list[str] = []
    for line in output.splitlines():
        if " pip install " in line and "requirements/uv.txt" not in line:
            found += re.findall(r"-r (\S+)", line) + (["-e ."] if line.endswith("-e .") else [])
    return found


def test_install_with_groups_installs_only_those_locks(tmp_path: Path) -> None:
    result = make("-n", "install", f"VENV={tmp_path}", GROUPS="format")
    assert result.returncode == 0, result.stderr
    assert installs(result.stdout) == ["requirements/format.txt"]
    assert f"touch {tmp_path}/.installed-format" in result.stdout


def test_install_without_groups_installs_the_developer_environment(tmp_path: Path) -> None:
    result = make("-n", "install", f"VENV={tmp_path}")
    assert result.returncode == 0, result.stderr
    assert installs(result.stdout) == ["requirements-dev.txt", "-e ."]
    assert "--require-hashes" in result.stdout


@pytest.mark.parametrize(
    ("target", "locks"),
    [
        ("format-check", ["requirements/format.txt"]),
        ("lint", ["requirements.txt", "-e .", "requirements/lint.txt"]),
        ("security", ["requirements/security.txt"]),
        ("smoke", ["requirements.txt", "-e ."]),
    ],
)
def test_each_target_installs_just_what_it_needs(
    tmp_path: Path, target: str, locks: list[str]
) -> None:
    # GROUPS switches to per-group installs; the target adds the groups it needs.
    result = make("-n", target, f"VENV={tmp_path}", GROUPS="runtime")
    assert result.returncode == 0, result.stderr
    assert installs(result.stdout) == locks


def test_an_unknown_group_is_refused_by_name(tmp_path: Path) -> None:
    result = make("-n", "install", f"VENV={tmp_path}", GROUPS="format fromat")
    assert result.returncode != 0
    assert "unknown group 'fromat'" in result.stderr


def test_the_act_venv_counts_as_installed_for_every_group(tmp_path: Path) -> None:
    venv = act_harness.make_act_venv(tmp_path / "venv")
    groups = " ".join(act_harness.install_groups())
    for target in ("install", "test", "lint", "format-check"):
        result = make("-n", target, f"VENV={venv}", GROUPS=groups)
        assert result.returncode == 0, result.stderr
        assert installs(result.stdout) == [], f"make {target} would install into the act venv"


def ci_jobs() -> dict[str, dict[str, object]]:
    """The pull-request workflow's jobs."""
    workflow = yaml.safe_load((REPO / ".github" / "workflows" / "ci.yml").read_text("utf-8"))
    jobs: dict[str, dict[str, object]] = workflow["jobs"]
    return jobs


def make_targets(job: dict[str, object]) -> list[str]:
    """The make targets of a job's `run:` steps, in order."""
    steps = job.get("steps", [])
    assert isinstance(steps, list)
    runs = [str(step["run"]).strip() for step in steps if "run" in step]
    return [run.split()[1] for run in runs if run.startswith("make ")]


@pytest.mark.parametrize(
    "name", [n for n, job in ci_jobs().items() if "install" in make_targets(job)]
)
def test_each_ci_job_installs_every_group_its_targets_need(tmp_path: Path, name: str) -> None:
    job = ci_jobs()[name]
    env = job.get("env", {})
    assert isinstance(env, dict) and env.get("GROUPS"), f"ci.yml job {name} installs without GROUPS"
    groups = str(env["GROUPS"])
    for group in groups.split():
        (tmp_path / f".installed-{group}").touch()
        os.utime(tmp_path / f".installed-{group}", (4_102_444_800, 4_102_444_800))
    for target in make_targets(job):
        result = make("-n", target, f"VENV={tmp_path}", GROUPS=groups)
        assert result.returncode == 0, result.stderr
        extra = installs(result.stdout)
        assert not extra, f"job {name}: make {target} installs {extra} beyond GROUPS={groups}"
