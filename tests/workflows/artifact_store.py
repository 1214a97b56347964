"""Artifact storage for the act stand-ins of upload-artifact and download-artifact.

GitHub keeps a run's artifacts so later jobs and other workflows (pr-report) can fetch them.
Here they live under MLSHIP_ACT_ARTIFACTS/<name>/, and every call is appended to
MLSHIP_ACT_ARTIFACTS/log.jsonl so tests can assert on what the workflows asked for. Uploads keep
upload-artifact's contract: hidden files (a name starting with a dot) are left out unless
ARTIFACT_HIDDEN is true, and a name that already exists is refused unless ARTIFACT_OVERWRITE is.
"""

from __future__ import annotations

import hashlib
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


def _hidden(path: Path) -> bool:
    return any(part.startswith(".") and part not in {".", ".."} for part in path.parts)


def _output(**values: str) -> None:
    """Set step outputs, as the real action does, when run as a step."""
    if "GITHUB_OUTPUT" in os.environ:
        with open(os.environ["GITHUB_OUTPUT"], "a", encoding="utf-8") as output:
            output.writelines(f"{key}={value}\n" for key, value in values.items())


def _digest(target: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in target.rglob("*") if p.is_file()):
        digest.update(path.relative_to(target).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def upload(store: Path, name: str) -> int:
    """Copy the listed paths into the store under `name`, keeping paths below their root."""
    listed = [Path(line.strip()) for line in os.environ["ARTIFACT_PATH"].splitlines()]
    found = [p for p in listed if str(p) not in {"", "."} and p.exists()]
    hidden = os.environ.get("ARTIFACT_HIDDEN") == "true"
    if not hidden:
        found = [p for p in found if not _hidden(p)]
    _log(store, {"op": "upload", "name": name, "paths": [str(p) for p in found]})
    if not found:
        message = f"No files were found with the provided path: {os.environ['ARTIFACT_PATH']}"
        if os.environ.get("ARTIFACT_IF_NO_FILES", "warn") == "error":
            print(f"::error::{message}")
            return 1
        print(f"::warning::{message}. No artifacts will be uploaded.")
        return 0
    target = store / name
    if target.exists():
        if os.environ.get("ARTIFACT_OVERWRITE") != "true":
            print(
                "::error::Failed to CreateArtifact: Received non-retryable error: Failed request: "
                "(409) Conflict: an artifact with this name already exists on the workflow run"
            )
            return 1
        shutil.rmtree(target)
    root = _root(found).absolute()
    skip = None if hidden else shutil.ignore_patterns(".*")
    for path in found:
        relative = path.absolute().relative_to(root)
        destination = target / relative
        if path.is_dir():
            shutil.copytree(path, destination, dirs_exist_ok=True, ignore=skip)
        else:
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, destination)
    print(f"uploaded artifact {name!r}: {', '.join(map(str, found))}")
    number = sum(1 for stored in store.iterdir() if stored.is_dir())
    url = f"{os.environ.get('GITHUB_SERVER_URL', '')}/{os.environ.get('GITHUB_REPOSITORY', '')}"
    _output(
        **{
            "artifact-id": str(number),
            "artifact-url": f"{url}/actions/runs/{os.environ.get('GITHUB_RUN_ID', '')}"
            f"/artifacts/{number}",
            "artifact-digest": _digest(target),
        }
    )
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
