"""`mlship reproduce VERSION`: rebuild a registered version from its lineage; compare its bytes.

The version's commit is checked out in a git worktree, given the data bytes its `data.dvc`
pins (that commit's own `mlship data`: DVC cache, remote, or the verified example) and rebuilt
with `dvc repro --force --no-run-cache` (every stage runs: nothing is restored from a cache)
in this environment, checked against the commit's lock first, or with `--install` in a fresh
virtualenv installed from that lock. Exit 0 when the model file is byte-identical to the one
the registry recorded; otherwise every difference is listed (exit 15).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

from mlship.config import Params, PathsParams
from mlship.data.pinned import keep_pins, pin_files
from mlship.errors import BaselineError, NotReproduced, RegistryError
from mlship.gate.worktree import git, prepare_tree, run_in, tree_env, worktree_for
from mlship.registry.core import Registry
from mlship.reproduce.lineage import (
    Lineage,
    Rebuilt,
    differences,
    environment_differences,
    lineage_of,
    locked_versions,
)
from mlship.entry import run_main, stage_parser
from mlship.tracking import file_md5, mlflow_errors, tracking_uri


def read_lineage(params: Params, version: str) -> Lineage:
    """The version's lineage from the configured registry (read only)."""
    # pylint: disable=import-outside-toplevel  # MLflow is slow to import
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    uri = tracking_uri(params.paths.mlflow_dir)
    registry = Registry(
        MlflowClient(tracking_uri=uri, registry_uri=uri), params.registry.model_name
    )
    with mlflow_errors(uri):
        try:
            found = registry.client.get_model_version(registry.name, version)
        except MlflowException as error:
            raise RegistryError(
                f"registry: no version {version!r} of {registry.name!r}: {error}"
            ) from None
    return lineage_of(version, dict(found.tags))


def _installed(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _install_lock(tree: Path, env: dict[str, str]) -> dict[str, str]:
    """A virtualenv in the worktree from the commit's hashed lock; the env that runs it."""
    venv = tree / ".venv"
    python = venv / "bin" / "python"
    run_in([sys.executable, "-m", "venv", str(venv)], tree, env)
    pip = [str(python), "-m", "pip", "install", "--quiet", "--no-deps"]
    run_in([*pip, "--require-hashes", "-r", "requirements.txt"], tree, env)
    run_in([*pip, "--no-build-isolation", "-e", "."], tree, env)
    return {**env, "PATH": os.pathsep.join([str(venv / "bin"), env["PATH"]])}


def rebuild(lineage: Lineage, cwd: Path, install: bool) -> tuple[Rebuilt, list[str]]:
    """Rebuild the commit's pipeline in a worktree; what it made and how its environment differs."""
    try:
        git("cat-file", "-e", f"{lineage.commit}^{{commit}}", cwd=cwd)
    except BaselineError:  # the commit is not in this clone: say so, not in git's words
        raise RegistryError(
            f"version {lineage.version} was built from commit {lineage.commit[:12]}, which this "
            "repository does not have (git fetch it, or reproduce in a full clone)"
        ) from None
    tree = worktree_for(lineage.commit, cwd)
    env = tree_env(tree)
    prepared = prepare_tree(tree, lineage.commit, cwd, env)
    lock = git("show", f"{lineage.commit}:requirements.txt", cwd=cwd)
    if install:
        env = _install_lock(tree, env)
        env_diff: list[str] = []
    else:
        env_diff = environment_differences(locked_versions(lock), _installed)
    pins = pin_files(tree)
    try:
        run_in(["dvc", "repro", "--force", "--no-run-cache", "--no-commit"], tree, env)
    finally:
        keep_pins(pins)
    paths = PathsParams.model_validate(prepared["raw"].get("paths", {}))
    model = tree / paths.model_dir / "model.skops"
    meta = json.loads((tree / paths.model_dir / "model.json").read_text(encoding="utf-8"))
    metrics = json.loads((tree / paths.metrics).read_text(encoding="utf-8"))
    rebuilt = Rebuilt(
        data_md5=str(meta["data_md5"]),
        model_md5=file_md5(model) or "",
        # MLflow logs no NaN metric (tracking.log_run): neither is compared.
        metrics={k: float(v) for k, v in metrics.items() if not math.isnan(float(v))},
    )
    return rebuilt, env_diff


def run(params: Params, version: str, install: bool = False, cwd: Path | None = None) -> Rebuilt:
    """Rebuild `version` and compare; raise NotReproduced listing every difference."""
    lineage = read_lineage(params, version)
    print(
        f"reproduce: version {version} from commit {lineage.commit[:12]}, model md5 "
        f"{lineage.model_md5}; rebuilding in a worktree"
    )
    rebuilt, env_diff = rebuild(lineage, (cwd or Path.cwd()).resolve(), install)
    found = differences(lineage, rebuilt)
    if found:
        raise NotReproduced(
            f"version {version} is NOT reproduced from commit {lineage.commit[:12]}:\n  "
            + "\n  ".join([*found, *env_diff])
        )
    for line in env_diff:
        print(f"reproduce: note: {line}")
    print(f"reproduce: version {version} rebuilt byte-identical (model md5 {rebuilt.model_md5})")
    return rebuilt


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = stage_parser("reproduce", "Rebuild a registered model version from its lineage.")
    parser.add_argument("version", help="the registered model version (a number)")
    parser.add_argument(
        "--install",
        action="store_true",
        help="rebuild in a fresh virtualenv from the commit's lock (default: this environment, "
        "whose differences from that lock are listed)",
    )

    def _main(params: Params, args: argparse.Namespace) -> Rebuilt:
        return run(params, args.version, args.install)

    return run_main(parser, _main, argv)


if __name__ == "__main__":
    sys.exit(main())
