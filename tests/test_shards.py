"""`make test-fast TEST_SHARD=K/N` (ci.yml's test parts): whole files, each in one part."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import shards
import tiers

SELECTION = ["tests/config/test_config_params.py", "tests/test_errors.py", "tests/test_settings.py"]


def test_make_test_fast_runs_only_the_files_of_the_part_test_shard_names() -> None:
    args = f"PYTEST_ARGS=--collect-only -q -p no:cacheprovider {' '.join(SELECTION)}"
    result = tiers.make_tier("test-fast", "TEST_WORKERS=0", "TEST_SHARD=2/3", args)
    assert result.returncode == 0, result.stdout + result.stderr
    parts = shards.assign(SELECTION, shards.recorded(), 3)
    (second,) = [name for name, part in parts.items() if part == 1]
    tests = {line.split("::")[0] for line in result.stdout.splitlines() if "::" in line}
    assert tests == {second}, result.stdout
    assert re.search(r"\d+/\d+ tests collected \(\d+ deselected\)", result.stdout), result.stdout


@pytest.mark.parametrize("shard", ["3", "0/3", "4/3", "1/3/2", "a/b"])
def test_a_shard_that_is_not_k_of_n_is_refused_naming_the_form_it_takes(shard: str) -> None:
    with pytest.raises(pytest.UsageError, match=f"^--shard {shard}: give the part and the number"):
        shards.parse_shard(shard)


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
