"""`mlship feedback ingest FILE`: labels that arrive in bulk, appended to the feedback store.

FILE (CSV or Parquet) has the columns `id` (a prediction's `request_id`), `label` and optionally
`timestamp` (epoch seconds or ISO-8601: when the truth was known; default: now). The labels go
to the same store as the service's POST /feedback, with the same rule (the first label of an id
wins), in one new file written atomically. Counts are checked against the record files on
disk: `unknown` ids match no recorded row (still stored: `mlship monitor` joins what matches),
`expired` labels came later than `--max-delay-hours` after their prediction (stored too; the
join decides with its own limit).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from mlship.data.io import read_table
from mlship.entry import run_command
from mlship.errors import DataError
from mlship.files import write_text
from mlship.monitoring.labels import (
    PREFIX,
    Counts,
    Label,
    epoch_seconds,
    first_labels,
    recorded_rows,
    sort_labels,
)
from mlship.monitoring.store import new_jsonl_file
from mlship.settings import RecordSettings, read_settings

COLUMNS = ("id", "label")


def _value(value: Any) -> Any:
    """A cell as a plain Python value; a missing one (NaN, NA, NaT) as None."""
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else value.timestamp()
    item = value.item() if hasattr(value, "item") else value
    if isinstance(item, float) and math.isnan(item):
        return None
    return None if item is pd.NA else item


def _labels(frame: pd.DataFrame, path: Path) -> Iterator[Label]:
    stamps = frame["timestamp"] if "timestamp" in frame.columns else None
    for index, (label_id, label) in enumerate(zip(frame["id"], frame["label"])):
        where = f"{path}: row {index + 2}"
        label_id, label = _value(label_id), _value(label)
        if label_id is None or label is None:
            raise DataError(f"{where}: id and label must both be given")
        if not isinstance(label, (str, int, float, bool)):
            raise DataError(f"{where}: label must be a string, number or boolean")
        stamp = _value(stamps.iloc[index]) if stamps is not None else None
        try:
            timestamp = None if stamp is None else epoch_seconds(stamp)
        except ValueError as error:
            raise DataError(f"{where}: {error}") from None
        yield Label(str(label_id), label, timestamp)


def ingest(path: Path, records: Path, max_delay_s: float | None = None) -> Counts:
    """Append the file's new labels to the store of `records`; count what became of each.

    Raises:
        DataError: the file is missing, unreadable, lacks a column, or holds an invalid row.
    """
    frame = read_table(path, text=["id"])
    missing = [name for name in COLUMNS if name not in frame.columns]
    if missing:
        raise DataError(
            f"{path}: missing column(s) {', '.join(missing)} "
            "(a label file has id, label and optionally timestamp)"
        )
    labels = list(_labels(frame, path))
    labelled, _, _ = first_labels(records)
    recorded, _ = recorded_rows(records)
    predicted_at = {row_id: float(row["ts"]) for row_id, row in recorded.items()}
    counts = sort_labels(
        labels, labelled, recorded.__contains__, time.time(), predicted_at, max_delay_s
    )
    if counts.rows:
        records.mkdir(parents=True, exist_ok=True)
        # Named like the service's files; written whole, so the join never sees half of it.
        target, _ = new_jsonl_file(records, PREFIX, 0)
        text = "".join(json.dumps(row) + "\n" for row in counts.rows)
        write_text(target, text)
    return counts


def _run(args: argparse.Namespace) -> int:
    records = args.records or read_settings(RecordSettings).dir
    hours = args.max_delay_hours
    counts = ingest(args.file, records, hours * 3600.0 if hours is not None else None)
    summary = (
        f"{args.file}: {counts.accepted} accepted, {counts.duplicates} duplicates, "
        f"{counts.unknown} unknown"
    )
    if hours is not None:
        summary += f", {counts.expired} expired (later than {hours:g} h)"
    print(f"{summary} -> {records}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """`mlship feedback ingest FILE`."""
    parser = argparse.ArgumentParser(
        prog="mlship feedback", description="ground-truth labels of recorded predictions"
    )
    actions = parser.add_subparsers(dest="action", required=True)
    ingest_parser = actions.add_parser("ingest", help="append a CSV or Parquet file of labels")
    ingest_parser.add_argument("file", type=Path, help="columns id, label[, timestamp]")
    ingest_parser.add_argument(
        "--records", type=Path, help="record directory (default: MLSHIP_RECORD_DIR or its default)"
    )
    ingest_parser.add_argument(
        "--max-delay-hours",
        type=float,
        help="count labels later than this after their prediction as expired",
    )
    return run_command(parser, _run, argv)
