"""`mlship baseline`: rebuild main's outputs in a git worktree so the gate has something to beat.

main is rebuilt from its own commit, code and params with `dvc repro`, instead of downloaded:
that needs no secret (so fork pull requests work), and with the DVC cache shared with this
checkout the run-cache restores every stage main already ran, so an unchanged main costs
seconds. See docs/gate.md for the alternatives (a DVC remote, the registry's champion).
"""

from __future__ import annotations

import argparse
import os
import shutil

# git, dvc and python run with fixed argument lists, never through a shell.
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from mlship.config import Params, PathsParams
from mlship.data.io import read_table, write_table
from mlship.data.pinned import keep_pins, pin_files
from mlship.entry import run_main, stage_parser
from mlship.errors import BaselineError, DataError, MlshipError
from mlship.files import write_json, write_text
from mlship.io.process import run_command
from mlship.report.datadiff import profile

DEFAULT_REFS = ("origin/main", "main")


def _run(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    """Run a command in `cwd`; on failure a BaselineError with the last lines of its output."""
    return run_command(command, env, cwd, BaselineError)


def _git(*args: str, cwd: Path) -> str:
    return _run(["git", *args], cwd)


def resolve_ref(explicit: str | None, cwd: Path) -> tuple[str, str | None]:
    """The ref to compare with and its commit (None when it does not exist).

    `--ref` wins, then the BASE_REF environment variable, then origin/main, then main.
    """
    if explicit:
        candidates: tuple[str, ...] = (explicit,)
    elif os.environ.get("BASE_REF", "").strip():
        candidates = (os.environ["BASE_REF"].strip(),)
    else:
        candidates = DEFAULT_REFS
    for ref in candidates:
        try:
            return ref, _git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", cwd=cwd)
        except BaselineError:
            continue
    return candidates[0], None


def worktree_for(sha: str, cwd: Path) -> Path:
    """A detached worktree of `sha` inside git's own directory (never tracked, never scanned)."""
    common = Path(_git("rev-parse", "--git-common-dir", cwd=cwd))
    if not common.is_absolute():
        common = (cwd / common).resolve()
    tree = common / "mlship" / "baseline" / sha
    if (tree / ".git").exists():
        return tree
    # Keep one baseline worktree: older main commits live on in the DVC cache, not on disk.
    if tree.parent.is_dir():
        for stale in tree.parent.iterdir():
            shutil.rmtree(stale, ignore_errors=True)
    _git("worktree", "prune", cwd=cwd)
    tree.parent.mkdir(parents=True, exist_ok=True)
    _git("worktree", "add", "--detach", "--force", str(tree), sha, cwd=cwd)
    return tree


def _env(tree: Path) -> dict[str, str]:
    """Run main's code (its src/ first on the path) with this interpreter and its tools."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["PYTHONPATH"] = str(tree / "src")
    env.pop("MLFLOW_TRACKING_URI", None)
    return env


def _prepare(tree: Path, sha: str, cwd: Path, env: dict[str, str]) -> dict[str, Any]:
    """Share the DVC cache and remote, turn tracking off in main's params, put main's data in.

    Main's data is what main's `data.dvc` pins, put in place by main's own `mlship data`
    (cache, remote, or the verified example), or the baseline fails saying what is missing.
    """
    local_config = cwd / ".dvc" / "config.local"
    if local_config.is_file():  # a machine's remote (and credentials) kept out of git
        shutil.copyfile(local_config, tree / ".dvc" / "config.local")
    cache = _run(["dvc", "cache", "dir"], cwd, env).splitlines()[-1].strip()
    _run(["dvc", "config", "--local", "cache.dir", cache], tree, env)
    original = _git("show", f"{sha}:params.yaml", cwd=cwd)
    raw = yaml.safe_load(original) or {}
    # A baseline build is a comparison, not an experiment: it must not log runs anywhere.
    raw.setdefault("tracking", {})["enabled"] = False
    (tree / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    _run([sys.executable, "-m", "mlship.stages.data"], tree, env)
    return {"original": original, "raw": raw}


def collect_outputs(root: Path, raw: dict[str, Any], original: str, out: Path) -> None:
    """Copy a built project's outputs (predictions, model, plots, ...) and a data profile."""
    paths = PathsParams.model_validate(raw.get("paths", {}))
    copies = {
        paths.eval_dir / "predictions.csv": "predictions.csv",
        paths.eval_dir / "holdout.json": "holdout.json",
        paths.metrics: "metrics.json",
        paths.validation_dir / "validation.json": "validation.json",
        paths.model_dir / "model.json": "model.json",
        paths.model_dir / "model.skops": "model.skops",
    }
    for source, name in copies.items():
        if not (root / source).is_file():
            raise BaselineError(f"main's pipeline did not write {source}")
        shutil.copyfile(root / source, out / name)
    # Which rows main trained on: when a branch changes the data, the gate compares the two
    # models only on held-out rows main never saw (a reshuffled split would flatter main).
    train = root / paths.split_dir / "train.parquet"
    if train.is_file():
        ids = read_table(train)[["__id__"]].rename(columns={"__id__": "id"})
        write_table(ids, out / "train_ids.csv")
    (out / "plots").mkdir(exist_ok=True)
    for image in sorted((root / paths.plots_dir).glob("*.png")):
        shutil.copyfile(image, out / "plots" / image.name)
    write_text(out / "params.yaml", original if original.endswith("\n") else original + "\n")
    data = raw.get("data", {})
    try:
        frame = read_table(root / data.get("path", ""))
    except DataError as error:
        raise BaselineError(f"main's data cannot be profiled: {error}") from None
    numeric, categorical = list(data.get("numeric", [])), list(data.get("categorical", []))
    skip = [data["id_column"]] if data.get("id_column") else []
    target = (str(data.get("target")), data.get("task") != "regression")
    write_json(out / "profile.json", profile(frame, numeric, categorical, skip, target))


def run(params: Params, ref: str | None = None, cwd: Path | None = None) -> dict[str, Any]:
    """Build main's outputs into `gate.baseline_dir`; write none.json when main does not exist."""
    cwd = (cwd or Path.cwd()).resolve()
    out = params.gate.baseline_dir
    if out.exists():
        shutil.rmtree(out)  # a stale baseline must never be compared against
    out.mkdir(parents=True)
    name, sha = resolve_ref(ref, cwd)
    if sha is None:
        info: dict[str, Any] = {
            "ref": name,
            "reason": f"'{name}' does not exist (first pull request or a new repository)",
        }
        write_json(out / "none.json", info)
        print(f"baseline: {info['reason']}; the gate will check floors only")
        return info
    started = time.monotonic()
    try:
        tree = worktree_for(sha, cwd)
        env = _env(tree)
        prepared = _prepare(tree, sha, cwd, env)
        pins = pin_files(tree)
        try:
            _run(["dvc", "repro"], tree, env)
        finally:
            keep_pins(pins)
        collect_outputs(tree, prepared["raw"], prepared["original"], out)
    except MlshipError as error:
        # The first error, for the PR comment (the report step reads it).
        write_json(out / "error.json", {"ref": name, "sha": sha, "error": str(error)})
        raise
    info = {"ref": name, "sha": sha, "seconds": round(time.monotonic() - started, 1)}
    write_json(out / "baseline.json", info)
    print(f"baseline: built {name} ({sha[:12]}) in {info['seconds']} s -> {out}")
    return info


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = stage_parser("baseline", "Rebuild main's outputs for the gate, in a git worktree.")
    parser.add_argument(
        "--ref", help="git ref to compare with (default: $BASE_REF, else origin/main, else main)"
    )

    def _main(params: Params, args: argparse.Namespace) -> dict[str, Any]:
        return run(params, args.ref)

    return run_main(parser, _main, argv)


if __name__ == "__main__":
    sys.exit(main())
