"""Files: atomic writes (a reader sees the old file or the new one, never half of one), JSON
read with an error naming the file, and the JSON-safe view of a value."""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from mlship.errors import DataError, MlshipError


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def write_atomic(path: Path, write: Callable[[Path], object]) -> None:
    """Call `write` on a temp path beside `path`, then rename it over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        write(Path(temp))
        # mkstemp makes the file private; give it the mode a plain open() would have.
        os.chmod(temp, 0o666 & ~_umask())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def write_bytes(path: Path, data: bytes) -> None:
    """Write bytes atomically."""
    write_atomic(path, lambda temp: temp.write_bytes(data))


def write_text(path: Path, text: str) -> None:
    """Write UTF-8 text atomically."""
    write_bytes(path, text.encode("utf-8"))


def write_json(path: Path, payload: Any) -> None:
    """Write JSON with sorted keys and a final newline, atomically, so output is byte-stable."""
    write_text(path, json.dumps(payload, indent=2, sort_keys=True) + "\n")


def json_safe(value: Any) -> Any:
    """Return `value` in plain JSON types: NaN and infinities None, numpy scalars Python ones."""
    if isinstance(value, Mapping):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


def read_json(
    path: Path, error: type[MlshipError] = DataError, what: str = "JSON"
) -> dict[str, Any]:
    """Read a JSON object; raise `error` naming the file and `what` it should hold otherwise."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except OSError as failure:
        raise error(f"{path}: cannot read {what} ({failure.strerror})") from None
    except ValueError as failure:  # not JSON, or not UTF-8
        raise error(f"{path}: cannot read {what}: {failure}") from None
    if not isinstance(value, dict):
        raise error(f"{path}: {what} is not a JSON object")
    return value


def read_json_or_none(path: Path) -> dict[str, Any] | None:
    """Read a JSON object, or None when the file is missing, unreadable or not one (optional
    inputs: a report section or a state file that may not exist yet)."""
    try:
        return read_json(path)
    except DataError:
        return None


class StagedOutputs:
    """Outputs written beside their targets first and moved into place together by `publish`.

    A step that fails before `publish` (an exception, Ctrl-C) leaves every target as it was
    and removes what it staged.
    """

    def __init__(self) -> None:
        self._staged: list[tuple[Path, Path]] = []

    def directory(self, target: Path) -> Path:
        """An empty directory that will replace `target`."""
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"))
        os.chmod(temp, 0o777 & ~_umask())
        self._staged.append((temp, target))
        return temp

    def publish(self) -> None:
        """Move every staged directory over its target."""
        for temp, target in self._staged:
            retired = None
            if target.exists():
                retired = target.with_name(f".{target.name}.{os.getpid()}.old")
                shutil.rmtree(retired, ignore_errors=True)
                os.replace(target, retired)
            os.replace(temp, target)
            if retired is not None:
                shutil.rmtree(retired, ignore_errors=True)
        self._staged.clear()

    def __enter__(self) -> StagedOutputs:
        return self

    def __exit__(self, *exc: object) -> None:
        for temp, _ in self._staged:
            shutil.rmtree(temp, ignore_errors=True)
        self._staged.clear()
