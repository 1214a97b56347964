"""Every pinned action is a verified upstream release, used as its real action.yml allows.

tests/workflows/upstream/ holds, for each action the workflows pin, its real action.yml at the
pinned commit and (pins.json) the release tag, commit and runtime it was verified against; the
act stand-ins in tests/workflows/actions/ must declare the same contract, or the act runs prove
nothing about GitHub. After a Dependabot bump, tools/pin_action.py refreshes the record.
"""

from __future__ import annotations

import subprocess  # nosec B404
from pathlib import Path
from typing import Any

import pytest
import yaml
from act_harness import (
    STANDINS,
    UPSTREAM,
    WORKFLOWS,
    Pin,
    check_pin,
    verified_pins,
    workflow_pins,
)
from path_import import import_file

REPO = Path(__file__).resolve().parents[2]
PINS = workflow_pins()
REPOSITORIES = sorted({pin.action for pin in PINS})
# What steps use: each action, and each sub-action (actions/cache/save) on its own contract.
ACTIONS = sorted({pin.uses for pin in PINS})
pin_action = import_file("mlship_pin_action", REPO / "tools" / "pin_action.py")


def action_yml(root: Path, action: str) -> dict[str, Any]:
    """An action's metadata (the upstream fixture or the stand-in)."""
    loaded: dict[str, Any] = yaml.safe_load((root / action / "action.yml").read_text("utf-8"))
    return loaded


def contract(inputs: dict[str, Any]) -> dict[str, tuple[bool, str | None]]:
    """Each input's required-ness and default, as the runner sees them (strings)."""

    def as_text(value: Any) -> str | None:
        if value is None:
            return None
        return str(value).lower() if isinstance(value, bool) else str(value)

    return {
        name: (bool(spec.get("required", False)), as_text(spec.get("default")))
        for name, spec in (inputs or {}).items()
    }


def uses_steps() -> list[tuple[str, str, dict[str, Any]]]:
    """(workflow, action, with) for every step that uses a pinned action.

    A job calling a reusable workflow has no steps of its own: its steps are in the called file,
    which is one of these workflows too.
    """
    found = []
    for path in sorted(WORKFLOWS.glob("*.yml")):
        for job in yaml.safe_load(path.read_text(encoding="utf-8"))["jobs"].values():
            for step in job.get("steps", []):
                if "uses" in step:
                    found.append((path.name, step["uses"].split("@")[0], step.get("with") or {}))
    return found


@pytest.mark.parametrize("pin", PINS, ids=lambda p: f"{p.workflow}:{p.action}")
def test_every_pin_is_the_verified_commit_of_its_version_comment(pin: Pin) -> None:
    check_pin(pin, verified_pins())


def test_a_pin_without_a_verified_record_is_refused() -> None:
    real = PINS[0]
    other = verified_pins()[real.action]
    for forged in (
        Pin(real.workflow, real.action, "0" * 40, real.tag),
        Pin(real.workflow, real.action, real.commit, "v0.0.1"),
        Pin(real.workflow, "acme/unknown", real.commit, real.tag),
    ):
        with pytest.raises(AssertionError, match="not a verified pin"):
            check_pin(forged, {real.action: other})


def test_every_recorded_pin_is_used_and_matches_its_fixture() -> None:
    verified = verified_pins()
    assert sorted(verified) == REPOSITORIES
    for action in ACTIONS:
        record = verified[next(pin.action for pin in PINS if pin.uses == action)]
        assert action_yml(UPSTREAM, action)["runs"]["using"] == record["runtime"], action
        assert record["verified"].startswith(f"git rev-parse refs/tags/{record['tag']}^{{commit}}")


@pytest.mark.parametrize("workflow, action, given", uses_steps(), ids=lambda v: str(v)[:40])
def test_every_with_key_is_an_input_the_real_action_declares(
    workflow: str, action: str, given: dict[str, Any]
) -> None:
    inputs = contract(action_yml(UPSTREAM, action)["inputs"])
    unknown = sorted(set(given) - set(inputs))
    assert not unknown, f"{workflow}: {action} declares no input {unknown}"
    required = {name for name, (needed, default) in inputs.items() if needed and default is None}
    assert required <= set(given), f"{workflow}: {action} needs {sorted(required - set(given))}"


@pytest.mark.parametrize("action", ACTIONS)
def test_standin_declares_the_real_inputs_and_outputs(action: str) -> None:
    real, standin = action_yml(UPSTREAM, action), action_yml(STANDINS, action)
    assert contract(standin["inputs"]) == contract(real["inputs"])
    assert set(standin.get("outputs") or {}) == set(real.get("outputs") or {})


@pytest.mark.parametrize("action", ACTIONS)
def test_standin_runs_like_the_real_action(action: str) -> None:
    real = action_yml(UPSTREAM, action)["runs"]
    standin = action_yml(STANDINS, action)["runs"]
    steps = ("pre", "main", "post")
    assert standin["using"] == real["using"]
    assert [s for s in steps if s in standin] == [s for s in steps if s in real]
    assert (standin.get("pre-if"), standin.get("post-if")) == (
        real.get("pre-if"),
        real.get("post-if"),
    )
    for step in steps:
        if step in standin:
            assert (STANDINS / action / standin[step]).is_file(), (action, standin[step])


def test_every_standin_is_for_a_pinned_action() -> None:
    standins = sorted(str(p.parent.relative_to(STANDINS)) for p in STANDINS.rglob("action.yml"))
    assert standins == ACTIONS


def git(repo: Path, *args: str) -> None:
    """Run git in a scratch repository with a fixed identity."""
    subprocess.run(  # nosec B603 B607
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


def test_pin_action_verifies_a_release_tag_and_the_files_its_action_runs(tmp_path: Path) -> None:
    (tmp_path / "action.yml").write_text(
        "name: x\nruns:\n  using: node24\n  main: dist/index.js\n  post: dist/post.js\n"
    )
    (tmp_path / "dist").mkdir()
    (tmp_path / "dist" / "index.js").write_text("")
    git(tmp_path, "init", "--quiet")
    git(tmp_path, "add", "--all")
    git(tmp_path, "commit", "--quiet", "-m", "no post.js")
    git(tmp_path, "tag", "v1.0.0")
    git(tmp_path, "tag", "-a", "-m", "moving", "v1")
    git_dir = tmp_path / ".git"
    with pytest.raises(pin_action.PinError, match=r"runs \['dist/post.js'\], absent"):
        pin_action.verify(git_dir, "acme/x", "v1.0.0")
    (tmp_path / "dist" / "post.js").write_text("")
    git(tmp_path, "add", "--all")
    git(tmp_path, "commit", "--quiet", "-m", "post.js")
    git(tmp_path, "tag", "-a", "-m", "release", "v1.0.1")
    entry = pin_action.verify(git_dir, "acme/x", "v1.0.1")
    head = subprocess.run(  # nosec B603 B607
        ["git", "rev-parse", "HEAD"], cwd=tmp_path, check=True, capture_output=True, text=True
    ).stdout.strip()
    assert (entry["commit"], entry["runtime"]) == (head, "node24")
    with pytest.raises(pin_action.PinError, match="not a release tag"):
        pin_action.verify(git_dir, "acme/x", "v1")
    with pytest.raises(pin_action.PinError, match="no release tag v2.0.0"):
        pin_action.verify(git_dir, "acme/x", "v2.0.0")


def test_pin_action_verifies_and_returns_each_sub_action(tmp_path: Path) -> None:
    (tmp_path / "action.yml").write_text("name: x\nruns:\n  using: node24\n  main: dist/main.js\n")
    (tmp_path / "save").mkdir()
    (tmp_path / "save" / "action.yml").write_text(
        "name: x/save\nruns:\n  using: node24\n  main: ../dist/save-only.js\n"
    )
    (tmp_path / "dist").mkdir()
    (tmp_path / "dist" / "main.js").write_text("")
    git(tmp_path, "init", "--quiet")
    git(tmp_path, "add", "--all")
    git(tmp_path, "commit", "--quiet", "-m", "no save-only.js")
    git(tmp_path, "tag", "v1.0.0")
    with pytest.raises(pin_action.PinError, match=r"runs \['dist/save-only.js'\], absent"):
        pin_action.verify(tmp_path / ".git", "acme/x", "v1.0.0")
    (tmp_path / "dist" / "save-only.js").write_text("")
    git(tmp_path, "add", "--all")
    git(tmp_path, "commit", "--quiet", "-m", "save-only.js")
    git(tmp_path, "tag", "v1.0.1")
    entry = pin_action.verify(tmp_path / ".git", "acme/x", "v1.0.1")
    assert entry["sub_actions"] == {"save": (tmp_path / "save" / "action.yml").read_text()}
