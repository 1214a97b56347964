"""Stage `split`: hold out a seeded, stratified test set."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import pandas as pd
from sklearn.model_selection import train_test_split

from mlship.config import Params
from mlship.data.holdout import check_room_for_classes
from mlship.data.io import class_labels, model_frame, read_table, require_columns, write_table
from mlship.entry import run_stage
from mlship.errors import DataError


def prepare(frame: pd.DataFrame, params: Params) -> pd.DataFrame:
    """Keep id, features and target, typed as the model expects; drop rows without a target."""
    data = params.data
    columns = [*data.features, data.target] + ([data.id_column] if data.id_column else [])
    require_columns(frame, columns, data.path)
    frame = frame[frame[data.target].notna()]
    try:
        out = model_frame(frame, data)
    except DataError as error:
        raise DataError(f"{data.path}: {error}") from None
    target = frame[data.target]
    out[data.target] = class_labels(target) if data.is_classification else target
    out["__id__"] = frame[data.id_column].astype(str) if data.id_column else frame.index.astype(str)
    return out.reset_index(drop=True)


def split_frame(frame: pd.DataFrame, params: Params) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split rows into (train, test) reproducibly."""
    settings = params.split
    if params.data.is_classification:
        classes = int(frame[params.data.target].nunique())
        check_room_for_classes(len(frame), classes, settings, params.data.path)
    stratify = None
    if settings.stratify and params.data.is_classification:
        stratify = frame[params.data.target].astype(str)
    try:
        train, test = train_test_split(
            frame, test_size=settings.test_size, random_state=settings.seed, stratify=stratify
        )
    except ValueError as error:  # e.g. a class too rare to appear on both sides
        raise DataError(f"{params.data.path}: cannot split: {error}") from None
    return train.reset_index(drop=True), test.reset_index(drop=True)


def run(params: Params) -> tuple[int, int]:
    """Write train.parquet and test.parquet into `paths.split_dir`."""
    frame = prepare(read_table(params.data.path), params)
    train, test = split_frame(frame, params)
    out = params.paths.split_dir
    write_table(train, out / "train.parquet")
    write_table(test, out / "test.parquet")
    print(f"split {len(frame)} rows: {len(train)} train, {len(test)} test")
    return len(train), len(test)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    return run_stage("split", "Split the dataset into train and held-out test sets.", run, argv)


if __name__ == "__main__":
    sys.exit(main())
