"""Cut a test run in N parts of about equal duration, for CI's parallel test jobs.

`--shard K/N` runs part K of N. Parts get whole files, so a module fixture is built once: the
longest file first, each to the part with the least duration so far (the durations recorded in
tests/durations.json by `--record-durations`; a file not recorded counts as the mean of those
that are). A stale record only unbalances the parts: every selected test is in exactly one.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import tempfile
from collections import defaultdict
from pathlib import Path

import pytest

DURATIONS = Path(__file__).with_name("durations.json")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("shards", "parts of a test run for parallel CI jobs")
    group.addoption("--shard", metavar="K/N", help="run part K of N (tests/shards.py)")
    group.addoption(
        "--record-durations",
        action="store_true",
        help=f"record each test file's duration in {DURATIONS.name}, which --shard reads",
    )


def parse_shard(text: str) -> tuple[int, int]:
    """`K/N` as (K, N); anything else is a usage error naming the form it takes."""
    match = re.fullmatch(r"(\d+)/(\d+)", text)
    if not match or not 1 <= int(match[1]) <= int(match[2]):
        raise pytest.UsageError(
            f"--shard {text}: give the part and the number of parts as K/N, with 1 <= K <= N"
        )
    return int(match[1]), int(match[2])


def assign(files: list[str], durations: dict[str, float], parts: int) -> dict[str, int]:
    """Each file's part (0-based): the longest first, each to the least loaded part."""
    known = [durations[name] for name in files if name in durations]
    unknown = statistics.mean(known) if known else 1.0
    loads = [0.0] * parts
    assignment: dict[str, int] = {}
    for name in sorted(files, key=lambda name: (-durations.get(name, unknown), name)):
        part = loads.index(min(loads))
        assignment[name] = part
        loads[part] += durations.get(name, unknown)
    return assignment


def file_of(nodeid: str) -> str:
    """A test's file, as pytest names it (relative to the rootdir)."""
    return nodeid.split("::", 1)[0]


def recorded() -> dict[str, float]:
    """The recorded seconds of each test file; none before the first record."""
    return json.loads(DURATIONS.read_text(encoding="utf-8")) if DURATIONS.exists() else {}


@pytest.hookimpl(trylast=True)  # after `-m` has deselected the other tier
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    shard = config.getoption("shard")
    if not shard:
        return
    part, parts = parse_shard(shard)
    files = list(dict.fromkeys(file_of(item.nodeid) for item in items))
    assignment = assign(files, recorded(), parts)
    kept: list[pytest.Item] = []
    left: list[pytest.Item] = []
    for item in items:
        (kept if assignment[file_of(item.nodeid)] == part - 1 else left).append(item)
    config.hook.pytest_deselected(items=left)
    items[:] = kept


class DurationRecorder:
    """Sums the setup, call and teardown time of each file's tests; records them at the end,
    keeping the record of files this run did not select if they still exist."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.seconds[file_of(report.nodeid)] += report.duration

    def pytest_sessionfinish(self) -> None:
        root = DURATIONS.parent.parent
        kept = {name: seconds for name, seconds in recorded().items() if (root / name).is_file()}
        record = {**kept, **{name: round(s, 2) for name, s in self.seconds.items()}}
        text = json.dumps(dict(sorted(record.items())), indent=1)
        # Written whole or not at all: a temporary file beside it, then renamed over it.
        fd, temp = tempfile.mkstemp(dir=DURATIONS.parent, prefix=".durations-")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text + "\n")
        os.replace(temp, DURATIONS)


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("shard"):
        parse_shard(config.getoption("shard"))  # a typo fails before anything is collected
    # Only the main process records: with pytest-xdist, it is handed every worker's reports.
    if config.getoption("record_durations") and not hasattr(config, "workerinput"):
        config.pluginmanager.register(DurationRecorder(), "mlship-durations")
