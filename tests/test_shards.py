"""`make test-fast TEST_SHARD=K/N` (ci.yml's test parts): the parts run each test exactly once."""

from __future__ import annotations

import json
import os
import re
import subprocess  # nosec B404
import sys
from pathlib import Path

import pytest
import shards

REPO = Path(__file__).resolve().parents[1]
# Four small files: three parts of whole files, none empty.
SELECTION = (
    "tests/config tests/test_errors.py tests/test_settings.py tests/report/test_report_markdown.py"
)


def make_test_fast(*variables: str) -> subprocess.CompletedProcess[str]:
    """`make test-fast` in one process, listing the tests it would run instead of running them."""
    venv = Path(sys.executable).parent.parent
    args = f"PYTEST_ARGS=--collect-only -q -p no:cacheprovider {SELECTION}"
    env = {k: v for k, v in os.environ.items() if k != "TEST_SHARD"}
    command = ["make", "--no-print-directory", "-o", f"{venv}/.installed", f"VENV={venv}"]
    return subprocess.run(  # nosec B603 B607
        [*command, "test-fast", "TEST_WORKERS=0", args, *variables],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def collected(part: int, parts: int) -> tuple[list[str], int]:
    """The tests part K of N would run, and how many the selection has in all."""
    result = make_test_fast(f"TEST_SHARD={part}/{parts}")
    assert result.returncode == 0, result.stdout + result.stderr
    total = re.search(r"(\d+)/(\d+) tests collected", result.stdout)
    assert total, result.stdout
    return [line for line in result.stdout.splitlines() if "::" in line], int(total.group(2))


def test_three_parts_run_every_test_of_the_selection_once_and_none_is_empty() -> None:
    parts = [collected(part, 3) for part in (1, 2, 3)]
    tests = [test for part, _ in parts for test in part]
    assert all(part for part, _ in parts), [len(part) for part, _ in parts]
    assert len(set(tests)) == len(tests) == parts[0][1], (len(tests), parts[0][1])


def test_a_shard_that_is_not_k_of_n_is_refused_naming_the_form_it_takes() -> None:
    result = make_test_fast("TEST_SHARD=3")
    assert result.returncode != 0
    assert "--shard 3: give the part and the number of parts as K/N, with 1 <= K <= N" in (
        result.stderr
    )


def test_whole_files_go_longest_first_to_the_least_loaded_part() -> None:
    durations = {"a.py": 50.0, "b.py": 30.0, "c.py": 20.0, "d.py": 10.0}
    parts = shards.assign(["d.py", "c.py", "b.py", "a.py", "new.py"], durations, 2)
    # new.py is not recorded: it counts as the mean, 27.5 s.
    assert parts == {"a.py": 0, "b.py": 1, "new.py": 1, "c.py": 0, "d.py": 1}


def test_recorded_durations_keep_files_not_run_and_drop_files_that_are_gone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "tests").mkdir()
    for name in ("run.py", "not_run.py"):
        (tmp_path / "tests" / name).touch()
    record = tmp_path / "tests" / "durations.json"
    record.write_text('{"tests/gone.py": 9, "tests/not_run.py": 4, "tests/run.py": 1}')
    monkeypatch.setattr(shards, "DURATIONS", record)
    recorder = shards.DurationRecorder()
    for when, seconds in (("setup", 2.0), ("call", 3.0), ("teardown", 0.5)):
        recorder.pytest_runtest_logreport(
            pytest.TestReport(
                "tests/run.py::test_x", ("", 0, ""), {}, "passed", None, when, [], seconds
            )
        )
    recorder.pytest_sessionfinish()
    assert json.loads(record.read_text()) == {"tests/not_run.py": 4, "tests/run.py": 5.5}
    assert [p.name for p in record.parent.iterdir() if p.name.startswith(".")] == []
