"""Record the service's inputs and predictions to rotated JSONL files, off the request path.

The request path only samples and puts one small item on a bounded queue (`put_nowait`: when
the queue is full the batch is dropped and counted, the request never waits). A daemon thread
(`store.JsonlWriter`) writes the rows to `records-<UTC time>-<seq>.jsonl` files of at most
`max_file_rows` rows and keeps the newest `max_files` of them. `mlship monitor` reads the newest
rows back; `mlship.monitoring.labels` joins them with the ground truth by `request_id`.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from mlship.monitoring.store import JsonlWriter, RecentIds, jsonl_files, read_jsonl

# Re-exported: serving imports RecordSettings from here until it imports mlship.settings.
from mlship.settings import RecordSettings as RecordSettings  # pylint: disable=useless-import-alias

PREFIX = "records-"
PREDICTION = "prediction"
GAUGES = "drift.prom"  # written by `mlship monitor`, appended to the service's /metrics
# A request id (the caller's X-Request-Key, or a uuid4 hex): no `/`, which a batch's row ids
# `<request id>/<index>` add.
REQUEST_ID_CHARS = 128
REQUEST_ID_PATTERN = r"^[A-Za-z0-9._:-]+$"
ROW_ID_PATTERN = r"^[A-Za-z0-9._:-]{1,128}(/[0-9]{1,9})?$"


@dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ costs microseconds per call
class Request:
    """One answered request as the recorder queues it (its rows are built in the writer)."""

    request_id: str
    batch: bool  # a batch's rows are `<request_id>/<index>`, a single record's row `request_id`
    role: str
    version: str
    columns: dict[str, list[Any]]
    observed: list[Any]  # the drift signal: P(positive), the top probability, or the value
    predicted: list[Any]  # the answers' `prediction`
    probabilities: list[dict[str, float]] | None  # multiclass only
    ts: float


def row_id(request_id: str, batch: bool, index: int) -> str:
    """The id of one row of a request: the request id, or `<request id>/<index>` in a batch."""
    return f"{request_id}/{index}" if batch else request_id


def _rows(request: Request) -> Iterator[dict[str, Any]]:
    names = list(request.columns)
    for i, observed in enumerate(request.observed):
        row = {name: request.columns[name][i] for name in names}
        row.update(
            ts=request.ts,
            role=request.role,
            version=request.version,
            prediction=observed,
            request_id=row_id(request.request_id, request.batch, i),
            predicted=request.predicted[i],
        )
        if request.probabilities is not None:
            row["probabilities"] = request.probabilities[i]
        yield row


class Recorder:
    """Sample, queue and write prediction records in a background thread."""

    def __init__(self, settings: RecordSettings) -> None:
        self.settings = settings
        self.recorded = 0
        # Which requests to record: a reproducible sample, nothing secret.
        self._random = random.Random(settings.seed)  # nosec B311
        self._writer = JsonlWriter(
            settings.dir,
            PREFIX,
            _rows,
            queue_size=settings.queue_size,
            max_file_rows=settings.max_file_rows,
            max_files=settings.max_files,
        )
        # Recently recorded requests (a batch under `<id>/`), for POST /feedback's `unknown`.
        self._recent = RecentIds(settings.known_ids)

    @property
    def dropped(self) -> int:
        """Requests sampled but dropped because the queue was full."""
        return self._writer.dropped

    @property
    def written(self) -> int:
        """Rows written to the record files."""
        return self._writer.written

    def start(self) -> Recorder:
        """Start the writer thread."""
        self._writer.start()
        return self

    def record(  # pylint: disable=too-many-arguments
        self,
        role: str,
        version: str,
        columns: dict[str, list[Any]],
        observed: Sequence[Any],
        *,
        request_id: str,
        batch: bool,
        predicted: Sequence[Any],
        probabilities: Sequence[dict[str, float]] | None = None,
    ) -> bool:
        """Queue one request's rows if sampled; never blocks. Return whether it was queued."""
        rate = self.settings.sample_rate
        if rate < 1.0 and self._random.random() >= rate:
            return False
        request = Request(
            request_id,
            batch,
            role,
            version,
            columns,
            list(observed),
            list(predicted),
            list(probabilities) if probabilities is not None else None,
            time.time(),
        )
        if not self._writer.put(request):
            return False
        self.recorded += 1
        if batch:
            self._recent.add(f"{request_id}/", len(request.observed))
        else:
            self._recent.add(request_id)
        return True

    def knows(self, row: str) -> bool:
        """Whether this process recorded the row with this id (within its memory of ids)."""
        if row in self._recent:
            return True
        request, _, index = row.rpartition("/")
        rows = self._recent.get(f"{request}/") if index.isdigit() else None
        return rows is not None and int(index) < rows

    def gauges(self) -> bytes:
        """The drift gauges `mlship monitor` last wrote beside the records, or nothing."""
        try:
            return (self.settings.dir / GAUGES).read_bytes()
        except OSError:
            return b""

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued, then stop the thread."""
        self._writer.close(timeout)


def record_files(directory: Path) -> list[Path]:
    """The record files, oldest first (names sort by time, then sequence)."""
    return jsonl_files(directory, PREFIX)


def read_recent(directory: Path, rows: int) -> pd.DataFrame:
    """The newest `rows` recorded rows (fewer if fewer were recorded), oldest first."""
    frames: list[pd.DataFrame] = []
    total = 0
    for path in reversed(record_files(directory)):
        lines = read_jsonl(path).rows
        if not lines:
            continue
        frames.append(pd.DataFrame(lines))
        total += len(lines)
        if total >= rows:
            break
    if not frames:
        return pd.DataFrame()
    return pd.concat(frames[::-1], ignore_index=True).tail(rows).reset_index(drop=True)
