"""The data a commit pins: the `.dvc` file that tracks `data.path`, its hashes, and the bytes.

`materialise` makes `data.path` hold exactly the bytes its `.dvc` file records — already there,
restored from the DVC cache, fetched from the configured DVC remote, or (for the bundled example
only) regenerated and proved identical by its hash — and otherwise raises one `DataUnavailable`
saying which file, which hash and what to do. Nothing else is ever put in its place.

Hashes are DVC 3's (`hash: md5`): a file's md5; a directory's is the md5 of the sorted JSON
list of its files' `{"md5", "relpath"}` plus `.dir` (tests check it against DVC's own).
"""

from __future__ import annotations

import hashlib
import json
import shutil

# dvc runs with fixed argument lists, never through a shell.
import subprocess  # nosec B404
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import yaml

from mlship.errors import DataUnavailable
from mlship.files import write_atomic, write_bytes

_CHUNK = 1 << 20
_TAIL = 5  # lines of a failed dvc command worth quoting

# Where a maintainer is sent when the remote cannot be read (a fork's PR gets no secrets).
FORK_HINT = (
    "A pull request from a fork gets no secrets, so it cannot read a private remote: a "
    "maintainer runs the check by pushing the PR's commits to a branch of this repository "
    "(`git fetch origin pull/<N>/head && git push origin FETCH_HEAD:refs/heads/pr-<N>`) and "
    "opening a pull request from it, or locally with `dvc pull` and `make validate smoke "
    "baseline gate report`."
)


@dataclass(frozen=True)
class Pin:
    """One output of a `.dvc` file: where it is and the hash the commit records for it."""

    dvc_file: Path
    out: Path
    md5: str

    @property
    def is_dir(self) -> bool:
        """Whether the output is a directory (DVC's hash ends in `.dir`)."""
        return self.md5.endswith(".dir")


def file_md5(path: Path) -> str:
    """The md5 of a file's bytes, read in chunks."""
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def dir_md5(entries: dict[str, str]) -> str:
    """DVC's hash of a directory whose files are `entries` (relative posix path -> md5)."""
    listing = [{"md5": md5, "relpath": relpath} for relpath, md5 in sorted(entries.items())]
    text = json.dumps(listing, sort_keys=True).encode("utf-8")
    return hashlib.md5(text, usedforsecurity=False).hexdigest() + ".dir"


def tree_entries(directory: Path) -> dict[str, str]:
    """Every file under `directory`, relative posix path -> md5."""
    return {
        path.relative_to(directory).as_posix(): file_md5(path)
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


def find_pin(path: Path, root: Path) -> Pin | None:
    """The `.dvc` output holding `path`: `X.dvc` beside `path` or a parent (as `dvc add X`)."""
    absolute = (root / path).resolve()
    for tracked in (absolute, *absolute.parents):
        if tracked == root.resolve().parent:
            break
        dvc_file = tracked.with_name(tracked.name + ".dvc")
        if not dvc_file.is_file():
            continue
        raw = yaml.safe_load(dvc_file.read_text(encoding="utf-8")) or {}
        for out in raw.get("outs", []):
            if (dvc_file.parent / str(out.get("path", ""))).resolve() == tracked:
                md5 = str(out.get("md5", ""))
                return Pin(dvc_file.relative_to(root.resolve()), tracked, md5)
    return None


def matches(pin: Pin, path: Path) -> bool:
    """Whether the workspace holds the pinned bytes.

    A directory also matches when `path` alone hashes to the pin: files added beside it that
    no commit recorded yet (the retrain loop's new batches) are not the pinned data.
    """
    if not pin.is_dir:
        return pin.out.is_file() and file_md5(pin.out) == pin.md5
    if not pin.out.is_dir() or not path.is_file():
        return False
    if dir_md5(tree_entries(pin.out)) == pin.md5:
        return True
    return dir_md5({path.relative_to(pin.out).as_posix(): file_md5(path)}) == pin.md5


def _dvc(args: list[str], root: Path) -> subprocess.CompletedProcess[str]:
    dvc = Path(sys.executable).parent / "dvc"
    command = [str(dvc) if dvc.exists() else "dvc", *args]
    try:
        return subprocess.run(  # nosec B603
            command, cwd=root, capture_output=True, text=True, check=False, timeout=3600
        )
    except (OSError, subprocess.SubprocessError) as error:
        return subprocess.CompletedProcess(command, 1, "", str(error))


def _tail(result: subprocess.CompletedProcess[str]) -> str:
    lines = (result.stdout + result.stderr).strip().splitlines()
    return " / ".join(line.strip() for line in lines[-_TAIL:] if line.strip())


def _cache_object(cache: Path, md5: str) -> Path:
    return cache / "files" / "md5" / md5[:2] / md5[2:]


def _fill_from_cache(pin: Pin, root: Path) -> None:
    """Copy each pinned file missing from the workspace out of the cache; delete nothing."""
    listed = _dvc(["cache", "dir"], root)
    if listed.returncode != 0 or not pin.is_dir:
        return
    cache = (root / listed.stdout.strip().splitlines()[-1].strip()).resolve()
    try:
        manifest = json.loads(_cache_object(cache, pin.md5).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    for entry in manifest:
        target, source = pin.out / entry["relpath"], _cache_object(cache, entry["md5"])
        if not target.exists() and source.is_file() and file_md5(source) == entry["md5"]:
            write_atomic(target, partial(shutil.copyfile, source))


def _restore(pin: Pin, path: Path, root: Path) -> tuple[bool, list[str]]:
    """Check the pin out of the DVC cache, else fetch it from the remote; say what was tried."""
    tried = ["not in the DVC cache"]
    restore = ["checkout", "--quiet", str(pin.dvc_file)]
    if pin.out.exists():
        _fill_from_cache(pin, root)  # files beside the pinned ones (not recorded yet) are kept
    else:
        _dvc(restore, root)
    if matches(pin, path):
        return True, ["the DVC cache"]
    remotes = _dvc(["remote", "list"], root)
    if remotes.returncode != 0 or not remotes.stdout.strip():
        return False, [*tried, "no DVC remote is configured"]
    name = remotes.stdout.split()[0]
    fetched = _dvc(["fetch", str(pin.dvc_file)], root)
    if fetched.returncode == 0:
        if pin.out.exists():
            _fill_from_cache(pin, root)
        else:
            fetched = _dvc(restore, root)
    if matches(pin, path):
        return True, [f"DVC remote '{name}'"]
    tried.append(f"not in DVC remote '{name}' ({_tail(fetched) or 'it lacks these bytes'})")
    return False, tried


def _regenerate(pin: Pin, path: Path, write_example: Callable[[Path], object]) -> bool:
    """Write the example into place only if its bytes hash to the pin."""
    with tempfile.TemporaryDirectory() as temp:
        candidate = Path(temp) / path.name
        write_example(candidate)
        md5 = file_md5(candidate)
        if pin.is_dir:
            expected = dir_md5({path.relative_to(pin.out).as_posix(): md5})
        else:
            expected = md5
        if expected != pin.md5:
            return False
        write_atomic(path, partial(shutil.copyfile, candidate))
    return True


def materialise(path: Path, root: Path, write_example: Callable[[Path], object]) -> str:
    """Make `path` hold the bytes its `.dvc` file pins; return how, or raise DataUnavailable."""
    root = root.resolve()
    pin = find_pin(path, root)
    absolute = (root / path).resolve()
    if pin is None:
        if absolute.is_file():
            return f"{path}: not tracked by DVC; used as committed"
        raise DataUnavailable(
            f"{path}: not found, and no .dvc file tracks it: check `data.path` in params.yaml, "
            f"or add the data with `dvc add {path}` and commit the .dvc file."
        )
    shown = pin.out.relative_to(root)
    if matches(pin, absolute):
        return f"{path}: matches {pin.dvc_file} ({pin.md5})"
    if pin.is_dir and pin.out.is_dir() and not absolute.exists():
        entries = tree_entries(pin.out)
        if dir_md5(entries) == pin.md5:
            raise DataUnavailable(
                f"{path}: not found; {shown}/ holds exactly what {pin.dvc_file} pins "
                f"({', '.join(sorted(entries))}): check `data.path` in params.yaml."
            )
    if absolute.exists():
        raise DataUnavailable(
            f"{path}: differs from what {pin.dvc_file} pins (md5 {pin.md5}): record the change "
            f"with `dvc add {shown}` (then `dvc push` and commit {pin.dvc_file}), or restore the "
            f"pinned bytes with `dvc checkout {pin.dvc_file}`."
        )
    restored, tried = _restore(pin, absolute, root)
    if restored:
        return f"{path}: restored from {tried[-1]}; matches {pin.dvc_file} ({pin.md5})"
    if _regenerate(pin, absolute, write_example):
        if (root / ".dvc").is_dir():
            # Into the DVC cache now: a source `dvc repro` finds uncached is saved again, its
            # .dvc file rewritten byte for byte, and DVC asks for `git add data.dvc` although
            # nothing changed. A failure here costs only that hint, so it is not an error.
            _dvc(["commit", "--force", "--quiet", str(pin.dvc_file)], root)
        return f"{path}: regenerated the bundled example; its bytes match {pin.dvc_file}"
    raise DataUnavailable(
        f"{path}: {pin.dvc_file} pins md5 {pin.md5}, and these bytes are missing: not in the "
        f"workspace, {', '.join(tried)}, and not the bundled example. Push them "
        f"from the machine that ran `dvc add {shown}`: `dvc push {pin.dvc_file}` to the remote "
        "in .dvc/config (see README, 'DVC remote in CI'; configure one with "
        "`dvc remote add --default storage <url>`). " + FORK_HINT
    )


def pin_files(root: Path) -> dict[Path, bytes]:
    """The `.dvc` files at the top of `root` and their bytes (before a `dvc repro`)."""
    return {path: path.read_bytes() for path in sorted(root.glob("*.dvc")) if path.is_file()}


def keep_pins(before: dict[Path, bytes]) -> None:
    """Undo and refuse a `dvc repro` that re-recorded a `.dvc` file: CI judges the pinned data."""
    changed = [path for path, text in before.items() if path.read_bytes() != text]
    for path in changed:
        write_bytes(path, before[path])
    if changed:
        names = ", ".join(path.name for path in changed)
        raise DataUnavailable(
            f"`dvc repro` re-recorded {names}: the workspace data is not what the commit pins "
            f"(restored {names}; run `mlship data` first, or `dvc add` and commit the change)."
        )
