"""End-to-end helpers: a copy of this repository run with the real tools (DVC, MLflow, git)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# Files the copy must not inherit from the working tree: another run's lock and outputs.
SKIP = {"dvc.lock"}


def tool_env(root: Path, **extra: str) -> dict[str, str]:
    """Environment for the tools: this venv first on PATH, the copy's own src, a private MLflow."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("DVC_")}
    env.update(
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        # The venv has an editable install of the repo; make the copy's own code win.
        PYTHONPATH=str(root / "src"),
        MLFLOW_TRACKING_URI=f"sqlite:///{root.parent / (root.name + '-mlflow.db')}",
        DVC_NO_ANALYTICS="1",
        GIT_AUTHOR_NAME="mlship e2e",
        GIT_AUTHOR_EMAIL="e2e@mlship.invalid",
        GIT_COMMITTER_NAME="mlship e2e",
        GIT_COMMITTER_EMAIL="e2e@mlship.invalid",
    )
    env.update(extra)
    return env


def run(
    args: list[str], root: Path, env: dict[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """Run a command in `root`; fail the test with its output when it fails."""
    result = subprocess.run(
        args,
        cwd=root,
        env=env or tool_env(root),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


def repo_files() -> list[str]:
    """Tracked files plus new, not ignored ones: what a commit of this working tree would hold."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\0")
    return sorted(name for name in listed if name and name not in SKIP and (REPO / name).is_file())


def copy_repo(dest: Path, params: dict[str, Any] | None = None) -> Path:
    """Copy the repository into `dest` as a fresh git repo with one commit; edit its params."""
    for name in repo_files():
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, target)
    if params:
        edit_params(dest, params)
    run(["git", "init", "--quiet", "--initial-branch=main"], dest)
    run(["git", "add", "--all"], dest)
    run(["git", "commit", "--quiet", "--no-verify", "-m", "copy of mlship"], dest)
    return dest


def edit_params(root: Path, changes: dict[str, Any]) -> None:
    """Set `section.key` (dotted) values in the copy's params.yaml."""
    path = root / "params.yaml"
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    for dotted, value in changes.items():
        node = raw
        *parents, last = dotted.split(".")
        for part in parents:
            node = node[part]
        node[last] = value
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
