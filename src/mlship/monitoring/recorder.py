"""Record the service's inputs and predictions to rotated JSONL files, off the request path.

The request path only samples and puts one small tuple on a bounded queue (`put_nowait`: when
the queue is full the batch is dropped and counted, the request never waits). A daemon thread
writes the rows to `records-<UTC time>-<seq>.jsonl` files of at most `max_file_rows` rows and
keeps the newest `max_files` of them. `mlship monitor` reads the newest rows back.
"""

from __future__ import annotations

import json
import logging
import queue
import random
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import pandas as pd

# Re-exported: serving imports RecordSettings from here until it imports mlship.settings.
from mlship.settings import RecordSettings as RecordSettings  # pylint: disable=useless-import-alias

log = logging.getLogger(__name__)
PREFIX = "records-"
PREDICTION = "prediction"
GAUGES = "drift.prom"  # written by `mlship monitor`, appended to the service's /metrics


_Item = tuple[float, str, str, dict[str, list[Any]], list[Any]]


class Recorder:
    """Sample, queue and write prediction records in a background thread."""

    def __init__(self, settings: RecordSettings) -> None:
        self.settings = settings
        self.recorded = 0
        self.dropped = 0
        self.written = 0
        # Which requests to record: a reproducible sample, nothing secret.
        self._random = random.Random(settings.seed)  # nosec B311
        self._queue: queue.Queue[_Item | None] = queue.Queue(settings.queue_size)
        self._thread = threading.Thread(target=self._write_loop, name="recorder", daemon=True)
        self._handle: TextIO | None = None
        self._rows_in_file = 0
        self._seq = 0

    def start(self) -> Recorder:
        """Start the writer thread."""
        self.settings.dir.mkdir(parents=True, exist_ok=True)
        self._thread.start()
        return self

    def record(
        self, role: str, version: str, columns: dict[str, list[Any]], predictions: Sequence[Any]
    ) -> bool:
        """Queue one request's rows if sampled; never blocks. Return whether it was queued."""
        rate = self.settings.sample_rate
        if rate < 1.0 and self._random.random() >= rate:
            return False
        try:
            self._queue.put_nowait((time.time(), role, version, columns, list(predictions)))
        except queue.Full:
            self.dropped += 1
            return False
        self.recorded += 1
        return True

    def gauges(self) -> bytes:
        """The drift gauges `mlship monitor` last wrote beside the records, or nothing."""
        try:
            return (self.settings.dir / GAUGES).read_bytes()
        except OSError:
            return b""

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued, then stop the thread."""
        if not self._thread.is_alive():
            return
        try:
            self._queue.put(None, timeout=timeout)
        except queue.Full:
            log.warning("recorder queue still full after %.0f s; stopping anyway", timeout)
        self._thread.join(timeout)

    # -- writer thread ----------------------------------------------------------------------

    def _open(self) -> TextIO:
        self._seq += 1
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        path = self.settings.dir / f"{PREFIX}{stamp}-{self._seq:06d}.jsonl"
        self._rows_in_file = 0
        self._prune()
        return path.open("a", encoding="utf-8")

    def _prune(self) -> None:
        files = record_files(self.settings.dir)
        # The file about to be written counts toward max_files.
        for old in files[: max(0, len(files) - self.settings.max_files + 1)]:
            old.unlink(missing_ok=True)

    def _write(self, item: _Item) -> None:
        stamp, role, version, columns, predictions = item
        names = list(columns)
        for i, prediction in enumerate(predictions):
            if self._handle is None or self._rows_in_file >= self.settings.max_file_rows:
                if self._handle is not None:
                    self._handle.close()
                self._handle = self._open()
            row = {name: columns[name][i] for name in names}
            row.update(ts=stamp, role=role, version=version, prediction=prediction)
            self._handle.write(json.dumps(row, default=str) + "\n")
            self._rows_in_file += 1
            self.written += 1

    def _write_loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                break
            try:
                self._write(item)
                if self._queue.empty() and self._handle is not None:
                    self._handle.flush()
            except (OSError, TypeError, ValueError):
                log.exception("recorder could not write a record; continuing")
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def record_files(directory: Path) -> list[Path]:
    """The record files, oldest first (names sort by time, then sequence)."""
    return sorted(directory.glob(f"{PREFIX}*.jsonl"))


def read_recent(directory: Path, rows: int) -> pd.DataFrame:
    """The newest `rows` recorded rows (fewer if fewer were recorded), oldest first."""
    frames: list[pd.DataFrame] = []
    total = 0
    for path in reversed(record_files(directory)):
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        if not lines:
            continue
        frames.append(pd.DataFrame([json.loads(line) for line in lines]))
        total += len(lines)
        if total >= rows:
            break
    if not frames:
        return pd.DataFrame()
    return pd.concat(frames[::-1], ignore_index=True).tail(rows).reset_index(drop=True)
