"""The actions/cache stand-in saves only when the job succeeded, as `post-if: success()` says.

A one-job workflow, pinned like the project's own, builds a file then passes or fails; act runs
it twice on the same cache store. Slow: two small act runs.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from act_harness import Scenario, git, verified_pins

pytestmark = pytest.mark.system

WORKFLOW = """\
name: cache
on: push
permissions: {{}}
jobs:
  build:
    runs-on: ubuntu-latest
    timeout-minutes: 5
    steps:
      - uses: actions/cache@{commit} # {tag}
        with:
          path: out
          key: out-v1
      - run: mkdir -p out && echo built > out/file
      - run: test "$OUTCOME" = pass
"""


def test_a_failing_job_saves_no_cache_and_a_passing_one_does(tmp_path: Path) -> None:
    pin = verified_pins()["actions/cache"]
    repo = tmp_path / "repo"
    (repo / ".github" / "workflows").mkdir(parents=True)
    (repo / ".github" / "workflows" / "cache.yml").write_text(
        WORKFLOW.format(commit=pin["commit"], tag=pin["tag"]), encoding="utf-8"
    )
    git(repo, "init", "--quiet", "--initial-branch=main")
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "--message", "cache workflow")
    scenario = Scenario(repo, tmp_path, act_venv=tmp_path / "no-venv")

    failed = scenario.act("push", "cache.yml", {}, extra_env={"OUTCOME": "fail"}, timeout=300)
    assert failed.result("build") == "failure", failed.describe()
    assert [c["op"] for c in scenario.cache_calls] == ["restore"], failed.describe()

    passed = scenario.act("push", "cache.yml", {}, extra_env={"OUTCOME": "pass"}, timeout=300)
    assert passed.result("build") == "success", passed.describe()
    assert [(c["op"], c["key"]) for c in scenario.cache_calls] == [
        ("restore", "out-v1"),
        ("restore", "out-v1"),
        ("save", "out-v1"),
    ], passed.describe()
