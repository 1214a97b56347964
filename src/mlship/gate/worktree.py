"""A commit rebuilt in a git worktree: the gate's baseline and `mlship reproduce` both use it.

git, dvc and python run with fixed argument lists, never through a shell.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

import yaml

from mlship.errors import BaselineError
from mlship.io.process import run_command


def run_in(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    """Run a command in `cwd`; on failure a BaselineError with the last lines of its output."""
    return run_command(command, env, cwd, BaselineError)


def git(*args: str, cwd: Path) -> str:
    """Run git in `cwd`; on failure a BaselineError."""
    return run_in(["git", *args], cwd)


def worktree_for(sha: str, cwd: Path) -> Path:
    """A detached worktree of `sha` inside git's own directory (never tracked, never scanned)."""
    common = Path(git("rev-parse", "--git-common-dir", cwd=cwd))
    if not common.is_absolute():
        common = (cwd / common).resolve()
    tree = common / "mlship" / "baseline" / sha
    if (tree / ".git").exists():
        return tree
    # Keep one baseline worktree: older main commits live on in the DVC cache, not on disk.
    if tree.parent.is_dir():
        for stale in tree.parent.iterdir():
            shutil.rmtree(stale, ignore_errors=True)
    git("worktree", "prune", cwd=cwd)
    tree.parent.mkdir(parents=True, exist_ok=True)
    git("worktree", "add", "--detach", "--force", str(tree), sha, cwd=cwd)
    return tree


def tree_env(tree: Path) -> dict[str, str]:
    """Run main's code (its src/ first on the path) with this interpreter and its tools."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["PYTHONPATH"] = str(tree / "src")
    env.pop("MLFLOW_TRACKING_URI", None)
    return env


def prepare_tree(tree: Path, sha: str, cwd: Path, env: dict[str, str]) -> dict[str, Any]:
    """Share the DVC cache and remote, turn tracking off in main's params, put main's data in.

    Main's data is what main's `data.dvc` pins, put in place by main's own `mlship data`
    (cache, remote, or the verified example), or the baseline fails saying what is missing.
    """
    local_config = cwd / ".dvc" / "config.local"
    if local_config.is_file():  # a machine's remote (and credentials) kept out of git
        shutil.copyfile(local_config, tree / ".dvc" / "config.local")
    cache = run_in(["dvc", "cache", "dir"], cwd, env).splitlines()[-1].strip()
    run_in(["dvc", "config", "--local", "cache.dir", cache], tree, env)
    original = git("show", f"{sha}:params.yaml", cwd=cwd)
    raw = yaml.safe_load(original) or {}
    # A baseline build is a comparison, not an experiment: it must not log runs anywhere.
    raw.setdefault("tracking", {})["enabled"] = False
    (tree / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    run_in([sys.executable, "-m", "mlship.stages.data"], tree, env)
    return {"original": original, "raw": raw}
