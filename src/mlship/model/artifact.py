"""Save and load a fitted pipeline as a byte-stable skops file (no pickle)."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path
from typing import Any

import skops.io as sio
from sklearn.pipeline import Pipeline

from mlship.errors import ModelError
from mlship.files import read_json, write_bytes

_FIXED_TIME = (1980, 1, 1, 0, 0, 0)
# The only modules whose types a model may ask skops to trust, when saved and when loaded.
_TRUSTABLE = ("sklearn.", "numpy.")
_ID = re.compile(r'"__id__": (\d+)')


def trusted_types(payload: bytes) -> list[str]:
    """Types in a skops payload that skops does not trust by default (sklearn internals)."""
    types: list[str] = sio.get_untrusted_types(data=payload)
    unexpected = [name for name in types if not name.startswith(_TRUSTABLE)]
    if unexpected:
        raise ModelError(f"model holds types outside scikit-learn and numpy: {unexpected}")
    return types


def stable_bytes(payload: bytes) -> bytes:
    """Rewrite a skops zip so equal models give equal bytes.

    skops names array members and object references after `id()` of the objects and stamps
    the current time; all change between runs. Ids are renumbered by order of first reference
    and timestamps fixed.
    """
    with zipfile.ZipFile(io.BytesIO(payload)) as source:
        return _rewrite(source)


def _rewrite(source: zipfile.ZipFile) -> bytes:
    schema = source.read("schema.json").decode("utf-8")
    ids = {value: str(index) for index, value in enumerate(dict.fromkeys(_ID.findall(schema)))}
    schema = _ID.sub(lambda m: f'"__id__": {ids[m.group(1)]}', schema)
    names = re.findall(r'"(\d+\.npy)"', schema)
    mapping = {name: f"{index}.npy" for index, name in enumerate(dict.fromkeys(names))}
    schema = re.sub(r'"(\d+\.npy)"', lambda m: f'"{mapping[m.group(1)]}"', schema)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as target:
        members = sorted(
            (mapping.get(info.filename, info.filename), info.filename)
            for info in source.infolist()
            if info.filename != "schema.json"
        )
        for new_name, old_name in [("schema.json", None), *members]:
            info = zipfile.ZipInfo(new_name, date_time=_FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            data = schema.encode("utf-8") if old_name is None else source.read(old_name)
            target.writestr(info, data)
    return out.getvalue()


def save_model(pipeline: Pipeline, path: Path) -> list[str]:
    """Write the pipeline to `path` atomically; return the skops types it needs trusted."""
    payload = sio.dumps(pipeline)
    types = trusted_types(payload)
    write_bytes(path, stable_bytes(payload))
    return types


def load_model(path: Path, trusted: list[str] | None = None) -> Pipeline:
    """Load a pipeline saved by `save_model`, trusting only the given (or recorded) types."""
    try:
        payload = path.read_bytes()
    except OSError as error:
        raise ModelError(f"{path}: cannot read model ({error.strerror})") from None
    types = trusted if trusted is not None else _recorded_types(path)
    # The list comes from model.json, which whoever registers a model writes: check it again.
    outside = [name for name in types if not name.startswith(_TRUSTABLE)]
    if outside:
        raise ModelError(
            f"{path}: refusing to trust types outside scikit-learn and numpy: {outside}"
        )
    try:
        model = sio.loads(payload, trusted=types)
    except (sio.exceptions.UntrustedTypesFoundException, ValueError, zipfile.BadZipFile) as error:
        raise ModelError(f"{path}: cannot load model: {error}") from None
    if not isinstance(model, Pipeline):
        raise ModelError(f"{path}: expected a scikit-learn Pipeline, got {type(model).__name__}")
    return model


def load_metadata(path: Path) -> dict[str, Any]:
    """Read a model's model.json (written by the train stage).

    Raises:
        ModelError: the file is missing or not a JSON object.
    """
    return read_json(path, ModelError, "model metadata")


def _recorded_types(path: Path) -> list[str]:
    return list(load_metadata(path.with_name("model.json")).get("trusted_types", []))
