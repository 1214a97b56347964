"""Read tabular files with errors that say what is wrong with which file."""

from __future__ import annotations

from collections.abc import Callable, Collection
from pathlib import Path

import numpy as np
import pandas as pd

from mlship.config import DataParams
from mlship.errors import DataError
from mlship.files import write_atomic


def _read_csv(path: Path, text: Collection[str]) -> pd.DataFrame:
    # low_memory=False: infer each column's type from all its rows, not chunk by chunk, so a
    # code column with text far down the file is all text (no DtypeWarning, no int/str mix).
    return pd.read_csv(path, low_memory=False, dtype={name: str for name in text} or None)


def _read_parquet(path: Path, _: Collection[str]) -> pd.DataFrame:
    return pd.read_parquet(path)  # a Parquet column has its type: no inference to steer


READERS: dict[str, Callable[[Path, Collection[str]], pd.DataFrame]] = {
    ".csv": _read_csv,
    ".parquet": _read_parquet,
}


def read_table(path: Path, text: Collection[str] = ()) -> pd.DataFrame:
    """Read a CSV or Parquet file; a CSV file's `text` columns stay text ("007" is not 7).

    Raises:
        DataError: the file is missing, empty, of an unknown kind, or not parseable.
    """
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise DataError(f"{path}: unsupported file type {path.suffix!r} (use .csv or .parquet)")
    if not path.is_file():
        raise DataError(f"{path}: data file not found")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: data file is empty")
    try:
        frame = reader(path, text)
    except UnicodeDecodeError as error:
        raise DataError(_not_utf8(path, error)) from None
    except (ValueError, OSError, pd.errors.ParserError) as error:
        raise DataError(f"{path}: cannot parse: {error}") from None
    if frame.empty:
        raise DataError(f"{path}: data file has a header but no rows")
    return frame


def _not_utf8(path: Path, error: UnicodeDecodeError) -> str:
    """Where a text file stops being UTF-8: the reader's offset is within a chunk, not the file."""
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as bad:
                byte = line[bad.start : bad.start + 1].hex()
                return (
                    f"{path}: line {number}, byte {bad.start + 1} of the line: 0x{byte} is "
                    "not UTF-8; save the file as UTF-8"
                )
    return f"{path}: not UTF-8 text ({error.reason}); save the file as UTF-8"


def write_table(frame: pd.DataFrame, path: Path) -> None:
    """Write a frame atomically as CSV or Parquet, chosen by the suffix of `path`."""
    if path.suffix.lower() == ".parquet":
        write_atomic(path, lambda temp: frame.to_parquet(temp, index=False))
    else:
        write_atomic(path, lambda temp: frame.to_csv(temp, index=False, lineterminator="\n"))


def require_columns(frame: pd.DataFrame, columns: list[str], source: Path) -> None:
    """Fail naming every expected column the frame lacks."""
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise DataError(f"{source}: missing column(s) {missing}; found {list(frame.columns)}")


def model_frame(frame: pd.DataFrame, data: DataParams) -> pd.DataFrame:
    """Return the feature columns with the dtypes the model expects.

    Numeric features become float64; categorical features become objects holding str or NaN,
    so a category read as a number (e.g. a zip code) and one read as text compare equal.

    Raises:
        DataError: a numeric feature holds values that are not numbers (never silently NaN).
    """
    out = pd.DataFrame(index=frame.index)
    for column in data.numeric:
        values = pd.to_numeric(frame[column], errors="coerce").astype("float64")
        lost = values.isna() & frame[column].notna()
        if lost.any():
            examples = list(dict.fromkeys(frame[column][lost].astype(str)))[:5]
            raise DataError(
                f"column '{column}': {int(lost.sum())} value(s) are not numbers, e.g. {examples}"
            )
        infinite = np.isinf(values)
        if infinite.any():
            raise DataError(f"column '{column}': {int(infinite.sum())} value(s) are infinite")
        out[column] = values
    for column in data.categorical:
        values = frame[column]
        if not isinstance(values.dtype, pd.StringDtype):
            # Codes read as numbers, or mixed objects (JSON, Parquet): the encoder needs all
            # text. Rare (readers give text columns a string dtype), so a per-value map is fine.
            values = values.map(_as_category)
        out[column] = values.astype(object).where(values.notna(), np.nan)
    return out


def class_labels(target: pd.Series) -> pd.Series:
    """Class labels as people wrote them: 1.0 read as float (or True) is the class 1.

    A label column with a gap or stored as float or bool would otherwise give classes
    "1.0" or "True" that no longer match `positive_label: 1` or the labels of other files.
    """
    if pd.api.types.is_bool_dtype(target):
        return target.astype("int64")
    if pd.api.types.is_float_dtype(target):
        known = target.dropna()
        if (known % 1 == 0).all():
            return target.astype("Int64") if target.isna().any() else target.astype("int64")
    return target


def _as_category(value: object) -> object:
    if value is pd.NA or value is None:  # nullable integer columns (e.g. from Parquet)
        return np.nan
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, float):
        if np.isnan(value):
            return np.nan
        return str(int(value)) if value.is_integer() else str(value)
    return str(value)
