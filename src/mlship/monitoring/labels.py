"""Ground truth for recorded predictions: the feedback store and its join with the records.

Labels arrive by the service's `POST /feedback` and by `mlship feedback ingest FILE`; both
append to `<records dir>/feedback-<UTC time>-<seq>.jsonl`, one `{"id", "label", "label_ts",
"received_ts"}` object a line. The first label stored for an id wins: a later one is a
duplicate, not written. `join_labels` pairs each id's first label with the recorded row of that
id (`request_id`); a label whose id no record holds is `unknown`, one later than `max_delay_s`
after its prediction `expired`.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Container, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from mlship.monitoring.recorder import record_files
from mlship.monitoring.store import JsonlWriter, RecentIds, jsonl_files, read_jsonl

log = logging.getLogger(__name__)
PREFIX = "feedback-"
# Columns of `Labelled.rows` before the features, in this order (probabilities: multiclass).
LEADING = [
    "request_id",
    "ts",
    "label_ts",
    "delay_s",
    "role",
    "version",
    "predicted",
    "prediction",
    "label",
    "probabilities",
]
Scalar = str | int | float | bool
# Tells whether a prediction with this row id was recorded.
Known = Callable[[str], bool]


def feedback_files(directory: Path) -> list[Path]:
    """The feedback files, oldest first."""
    return jsonl_files(directory, PREFIX)


def epoch_seconds(value: float | int | str) -> float:
    """When a label was known: epoch seconds, or ISO-8601 text (UTC unless it has an offset).

    Raises:
        ValueError: not a finite number nor an ISO-8601 time.
    """
    if isinstance(value, bool):
        raise ValueError("timestamp must be epoch seconds or ISO-8601 text, not a boolean")
    if isinstance(value, (int, float)):
        seconds = float(value)
        if not math.isfinite(seconds):
            raise ValueError("timestamp must be a finite number of seconds")
        return seconds
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"timestamp {value[:40]!r} is neither epoch seconds nor ISO-8601"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


@dataclass(frozen=True)
class Label:
    """One label as a caller gives it; `timestamp` None means "known on arrival"."""

    id: str
    label: Scalar
    timestamp: float | None = None


@dataclass
class Counts:
    """What became of a batch of labels (stored ones are `accepted` or `unknown`)."""

    accepted: int = 0
    duplicates: int = 0
    unknown: int = 0
    expired: int = 0
    rows: list[dict[str, Any]] = field(default_factory=list, repr=False)


def sort_labels(
    labels: Iterable[Label],
    labelled: Container[str],
    known: Known,
    now: float,
    predicted_at: dict[str, float] | None = None,
    max_delay_s: float | None = None,
) -> Counts:
    """Split labels into rows to store and counts, first label per id winning.

    `labelled` holds the ids already labelled (and is not changed); `predicted_at`, when given,
    maps a recorded row id to its prediction time, for counting labels later than `max_delay_s`.
    """
    counts = Counts()
    seen: set[str] = set()
    for item in labels:
        if item.id in seen or item.id in labelled:
            counts.duplicates += 1
            continue
        seen.add(item.id)
        label_ts = now if item.timestamp is None else item.timestamp
        if known(item.id):
            counts.accepted += 1
            if predicted_at is not None and max_delay_s is not None:
                counts.expired += label_ts - predicted_at[item.id] > max_delay_s
        else:
            counts.unknown += 1
        counts.rows.append(
            {"id": item.id, "label": item.label, "label_ts": label_ts, "received_ts": now}
        )
    return counts


class FeedbackBusy(Exception):
    """The feedback queue is full; nothing of the batch was stored."""


class FeedbackStore:
    """The service's label intake: dedup per id, rows written off the request path."""

    def __init__(  # pylint: disable=too-many-arguments
        self,
        directory: Path,
        known: Known,
        *,
        queue_size: int,
        max_file_rows: int,
        remembered: int,
    ) -> None:
        self.directory = directory
        self._known = known
        self._writer: JsonlWriter[list[dict[str, Any]]] = JsonlWriter(
            directory, PREFIX, lambda rows: rows, queue_size=queue_size, max_file_rows=max_file_rows
        )
        # Ids already labelled: the newest `remembered` of them (the join dedups the rest).
        self._labelled = RecentIds(remembered)

    def start(self) -> FeedbackStore:
        """Remember the ids the store already labels, then start the writer thread."""
        newest_first: list[list[dict[str, Any]]] = []
        for path in reversed(feedback_files(self.directory)):
            newest_first.append(read_jsonl(path).rows)
            if sum(map(len, newest_first)) >= self._labelled.limit:
                break
        for rows in reversed(newest_first):  # oldest first: the bound forgets the oldest
            for row in rows:
                self._labelled.add(str(row.get("id")))
        self._writer.start()
        return self

    def add(self, labels: Sequence[Label]) -> Counts:
        """Store the batch's new labels and count it.

        Raises:
            FeedbackBusy: the write queue is full; nothing was stored, the caller may retry.
        """
        counts = sort_labels(labels, self._labelled, self._known, time.time())
        if counts.rows and not self._writer.put(counts.rows):
            raise FeedbackBusy("feedback queue full")
        for row in counts.rows:
            self._labelled.add(row["id"])
        return counts

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued, then stop."""
        self._writer.close(timeout)


# -- the join -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Labelled:
    """Labelled predictions, oldest prediction first, and what could not be joined."""

    rows: pd.DataFrame
    unknown: int  # labels whose id matches no recorded row
    expired: int  # labels arriving later than max_delay_s after their prediction
    duplicates: int  # later labels for an id already labelled
    unreadable: int = 0  # lines skipped (a crash's half-written last line)


def _read(files: Sequence[Path]) -> tuple[list[dict[str, Any]], int]:
    rows: list[dict[str, Any]] = []
    unreadable = 0
    for path in files:
        read = read_jsonl(path)
        rows.extend(read.rows)
        unreadable += read.unreadable
    return rows, unreadable


def first_labels(directory: Path) -> tuple[dict[str, dict[str, Any]], int, int]:
    """Each id's first label (by arrival), how many later ones (duplicates), unreadable lines."""
    rows, unreadable = _read(feedback_files(directory))
    first: dict[str, dict[str, Any]] = {}
    duplicates = 0
    for row in rows:
        label_id, label_ts = row.get("id"), row.get("label_ts")
        if not isinstance(label_id, str) or "label" not in row or not _number(label_ts):
            unreadable += 1
            continue
        earlier = first.get(label_id)
        if earlier is not None:
            duplicates += 1
            # By arrival, not by file: the service appends to a file it opened before an ingest's.
            if _arrival(row) >= _arrival(earlier):
                continue
        first[label_id] = row
    return first, duplicates, unreadable


def _arrival(row: dict[str, Any]) -> float:
    value: Any = row.get("received_ts")
    return float(value) if _number(value) else math.inf


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def recorded_rows(directory: Path) -> tuple[dict[str, dict[str, Any]], int]:
    """The recorded rows by request id (the newest of a repeated id), and unreadable lines."""
    rows, unreadable = _read(record_files(directory))
    by_id = {
        row["request_id"]: row
        for row in rows
        if isinstance(row.get("request_id"), str) and _number(row.get("ts"))
    }
    return by_id, unreadable


def _frame(joined: list[dict[str, Any]]) -> pd.DataFrame:
    if not joined:
        return pd.DataFrame(columns=[c for c in LEADING if c != "probabilities"])
    frame = pd.DataFrame(joined).sort_values("ts", kind="stable").reset_index(drop=True)
    leading = [c for c in LEADING if c in frame.columns]
    return frame[[*leading, *(c for c in frame.columns if c not in LEADING)]]


def join_labels(records_dir: Path, *, max_delay_s: float | None = None) -> Labelled:
    """Join the stored labels with the recorded predictions of `records_dir`."""
    labels, duplicates, unreadable = first_labels(records_dir)
    records, unreadable_records = recorded_rows(records_dir)
    joined: list[dict[str, Any]] = []
    unknown = expired = 0
    for label_id, label in labels.items():
        record = records.get(label_id)
        if record is None:
            unknown += 1
            continue
        label_ts = float(label["label_ts"])
        delay = label_ts - float(record["ts"])
        if max_delay_s is not None and delay > max_delay_s:
            expired += 1
            continue
        joined.append({**record, "label": label["label"], "label_ts": label_ts, "delay_s": delay})
    return Labelled(_frame(joined), unknown, expired, duplicates, unreadable + unreadable_records)
