"""Artifact storage for the act stand-ins of upload-artifact and download-artifact.

GitHub keeps a run's artifacts so later jobs and other workflows (pr-report) can fetch them.
Here they live under MLSHIP_ACT_ARTIFACTS/<name>/, and every call is appended to
MLSHIP_ACT_ARTIFACTS/log.jsonl so tests can assert on what the workflows asked for.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path


def _log(store: Path, entry: dict[str, object]) -> None:
    with (store / "log.jsonl").open("a", encoding="utf-8") as log:
        log.write(json.dumps(entry) + "\n")


def _root(paths: list[Path]) -> Path:
    """The least common ancestor upload-artifact strips: a lone directory is its own root."""
    if len(paths) == 1:
        return paths[0] if paths[0].is_dir() else paths[0].parent
    return Path(os.path.commonpath([p.absolute() for p in paths]))


def upload(store: Path, name: str) -> int:
    """Copy the listed paths into the store under `name`, keeping paths below their root."""
    listed = [Path(line.strip()) for line in os.environ["ARTIFACT_PATH"].splitlines()]
    found = [p for p in listed if str(p) not in {"", "."} and p.exists()]
    _log(store, {"op": "upload", "name": name, "paths": [str(p) for p in found]})
    if not found:
        message = f"No files were found with the provided path: {os.environ['ARTIFACT_PATH']}"
        if os.environ.get("ARTIFACT_IF_NO_FILES", "warn") == "error":
            print(f"::error::{message}")
            return 1
        print(f"::warning::{message}. No artifacts will be uploaded.")
        return 0
    target = store / name
    shutil.rmtree(target, ignore_errors=True)
    root = _root(found).absolute()
    for path in found:
        relative = path.absolute().relative_to(root)
        destination = target / relative
        if path.is_dir():
            shutil.copytree(path, destination, dirs_exist_ok=True)
        else:
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, destination)
    print(f"uploaded artifact {name!r}: {', '.join(map(str, found))}")
    return 0


def download(store: Path, name: str) -> int:
    """Copy the stored artifact `name` into the requested path."""
    _log(
        store,
        {
            "op": "download",
            "name": name,
            "run_id": os.environ.get("ARTIFACT_RUN_ID", ""),
            "token_given": os.environ.get("ARTIFACT_TOKEN_GIVEN") == "true",
        },
    )
    source = store / name
    if not source.is_dir():
        print(f"::error::Unable to download artifact(s): Artifact not found for name: {name}")
        return 1
    destination = Path(os.environ.get("ARTIFACT_PATH") or ".")
    shutil.copytree(source, destination, dirs_exist_ok=True)
    print(f"downloaded artifact {name!r} to {destination}")
    return 0


def main() -> int:
    """Upload or download, as ARTIFACT_OP says."""
    store = Path(os.environ["MLSHIP_ACT_ARTIFACTS"])
    store.mkdir(parents=True, exist_ok=True)
    name = os.environ.get("ARTIFACT_NAME") or "artifact"
    if os.environ["ARTIFACT_OP"] == "upload":
        return upload(store, name)
    return download(store, name)


if __name__ == "__main__":
    sys.exit(main())
