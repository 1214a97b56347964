"""`make test-fast TEST_SHARD=K/N` (ci.yml's test parts): the parts run each test exactly once."""

from __future__ import annotations

import os
import re
import subprocess  # nosec B404
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SELECTION = "tests/config"


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


def test_a_shard_that_is_not_k_of_n_is_refused_with_the_form_it_takes() -> None:
    result = make_test_fast("TEST_SHARD=3")
    assert result.returncode != 0
    assert "TEST_SHARD=3: give the part and the number of parts as K/N, e.g. 1/3" in result.stderr
