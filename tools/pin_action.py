"""Record the evidence for one action pin: its release tag's commit and its real action.yml.

Usage: python tools/pin_action.py GIT_DIR OWNER/REPO vX.Y.Z

GIT_DIR is a clone (bare is fine) of github.com/OWNER/REPO. The tag must be a release tag
(vX.Y.Z); its commit, the action.yml at that commit, and the files its `runs` executes must all
be in that clone. The action.yml is copied to tests/workflows/upstream/OWNER/REPO/action.yml,
each sub-action's (DIR/action.yml, used as `OWNER/REPO/DIR@...`, e.g. actions/cache/save) beside
it in DIR/, and the pin is recorded in tests/workflows/upstream/pins.json, which the workflow
tests compare with every `uses:` line. After a Dependabot bump, run this for the new tag (the
tests fail until then).
"""

from __future__ import annotations

import json
import os
import re
import subprocess  # nosec B404 # git with fixed arguments
import sys
from pathlib import Path
from typing import Any

import yaml

UPSTREAM = Path(__file__).resolve().parents[1] / "tests" / "workflows" / "upstream"
PINS = UPSTREAM / "pins.json"
RELEASE_TAG = re.compile(r"v\d+\.\d+\.\d+")


class PinError(Exception):
    """The pin cannot be verified; the message says why."""


def _git(git_dir: Path, *args: str) -> str:
    proc = subprocess.run(  # nosec B603 B607
        ["git", f"--git-dir={git_dir}", *args], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise PinError(f"git {' '.join(args)} in {git_dir}: {proc.stderr.strip()}")
    return proc.stdout


def _runs_files(runs: dict[str, Any], subdir: str = "") -> list[str]:
    """The files a JavaScript action in `subdir` executes (main, pre, post), from the root."""
    if not str(runs.get("using", "")).startswith("node"):
        return []
    return [
        os.path.normpath(os.path.join(subdir, str(runs[key])))
        for key in ("pre", "main", "post")
        if key in runs
    ]


def verify(git_dir: Path, action: str, tag: str) -> dict[str, Any]:
    """Resolve `tag` to its commit and check the action it names can run; return the record."""
    if not RELEASE_TAG.fullmatch(tag):
        raise PinError(f"{tag!r} is not a release tag vX.Y.Z")
    try:
        commit = _git(git_dir, "rev-parse", "--verify", f"refs/tags/{tag}^{{commit}}").strip()
    except PinError as error:
        raise PinError(f"{action} has no release tag {tag} in {git_dir}") from error
    text = _git(git_dir, "show", f"{commit}:action.yml")
    runs: dict[str, Any] = yaml.safe_load(text)["runs"]
    tree = set(_git(git_dir, "ls-tree", "-r", "--name-only", commit).splitlines())
    sub_actions = {
        name.split("/")[0]: _git(git_dir, "show", f"{commit}:{name}")
        for name in sorted(tree)
        if name.count("/") == 1 and name.endswith("/action.yml")
    }
    files = sorted(
        set(_runs_files(runs)).union(
            *(_runs_files(yaml.safe_load(sub)["runs"], d) for d, sub in sub_actions.items())
        )
    )
    missing = [name for name in files if name not in tree]
    if missing:
        raise PinError(f"{action}@{commit} ({tag}) runs {missing}, absent from its tree")
    return {
        "action": action,
        "tag": tag,
        "commit": commit,
        "runtime": runs["using"],
        "verified": (
            f"git rev-parse refs/tags/{tag}^{{commit}} in a snapshot of github.com/{action}; "
            f"action.yml read at that commit; runs files {files} in its tree"
        ),
        "action_yml": text,
        "sub_actions": sub_actions,
    }


def record(entry: dict[str, Any]) -> None:
    """Write the action.yml fixtures and the pin record, each via a temp file then rename."""
    target = UPSTREAM / entry["action"] / "action.yml"
    pins: dict[str, Any] = json.loads(PINS.read_text(encoding="utf-8")) if PINS.exists() else {}
    unrecorded = {"action", "action_yml", "sub_actions"}
    pins[entry["action"]] = {k: v for k, v in entry.items() if k not in unrecorded}
    subs = entry.get("sub_actions", {}).items()
    for path, text in (
        (target, entry["action_yml"]),
        *((target.parent / subdir / "action.yml", sub) for subdir, sub in subs),
        (PINS, json.dumps(dict(sorted(pins.items())), indent=2) + "\n"),
    ):
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(path.name + ".tmp")
        temp.write_text(text, encoding="utf-8")
        os.replace(temp, path)


def main(argv: list[str] | None = None) -> int:
    """Verify one pin and record it; print the `uses:` line to put in the workflows."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    git_dir, action, tag = Path(args[0]), args[1], args[2]
    try:
        entry = verify(git_dir, action, tag)
    except PinError as error:
        print(f"pin_action: {error}", file=sys.stderr)
        return 1
    record(entry)
    print(f"uses: {action}@{entry['commit']} # {tag}  ({entry['runtime']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
