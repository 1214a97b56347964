"""`mlship baseline`: rebuild main's outputs in a git worktree so the gate has something to beat.

main is rebuilt from its own commit, code and params with `dvc repro`, instead of downloaded:
that needs no secret (so fork pull requests work), and with the DVC cache shared with this
checkout the run-cache restores every stage main already ran, so an unchanged main costs
seconds. See docs/gate.md for the alternatives (a DVC remote, the registry's champion).
"""

from __future__ import annotations

import argparse
import shutil

import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mlship.config import Params, PathsParams
from mlship.data.io import read_table, write_table
from mlship.data.pinned import keep_pins, pin_files
from mlship.entry import run_main, stage_parser
from mlship.errors import BaselineError, DataError, MlshipError
from mlship.files import write_json, write_text
from mlship.gate.worktree import git, prepare_tree, run_in, tree_env, worktree_for
from mlship.report.datadiff import profile
from mlship.settings import GateSettings, read_settings

DEFAULT_REFS = ("origin/main", "main")


def resolve_ref(explicit: str | None, cwd: Path) -> tuple[str, str | None]:
    """The ref to compare with and its commit (None when it does not exist).

    `--ref` wins, then the BASE_REF environment variable, then origin/main, then main.
    """
    if explicit:
        candidates: tuple[str, ...] = (explicit,)
    elif base_ref := read_settings(GateSettings).base_ref.strip():
        candidates = (base_ref,)
    else:
        candidates = DEFAULT_REFS
    for ref in candidates:
        try:
            return ref, git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", cwd=cwd)
        except BaselineError:
            continue
    return candidates[0], None


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
        env = tree_env(tree)
        prepared = prepare_tree(tree, sha, cwd, env)
        pins = pin_files(tree)
        try:
            run_in(["dvc", "repro"], tree, env)
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
