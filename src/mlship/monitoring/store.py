"""What the record and label stores share: JSONL files written off the request path, read back.

A `JsonlWriter` owns a bounded queue and a daemon thread: the request path only puts one item
on the queue (`put_nowait`, never waits) and the thread turns items into rows, written to
`<prefix><UTC time>-<seq>.jsonl` files of at most `max_file_rows` rows. `read_jsonl` reads such
a file back, skipping (and counting) a last line a crash left half-written. `RecentIds`
remembers the newest ids within a bound.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Generic, TextIO, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


def jsonl_files(directory: Path, prefix: str) -> list[Path]:
    """The files of one store, oldest first (names sort by time, then sequence)."""
    return sorted(directory.glob(f"{prefix}*.jsonl"))


def new_jsonl_file(directory: Path, prefix: str, seq: int) -> tuple[Path, int]:
    """Create a new, empty store file; return it and the sequence number it took.

    Exclusive creation: another writer of the same store (the service and `mlship feedback
    ingest`) may have taken the same second and number, and then the next number is tried.
    """
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    while True:
        seq += 1
        path = directory / f"{prefix}{stamp}-{seq:06d}.jsonl"
        try:
            path.open("x", encoding="utf-8").close()
        except FileExistsError:
            continue
        return path, seq


@dataclass(frozen=True)
class JsonlRows:
    """The rows of a JSONL file and how many lines could not be read."""

    rows: list[dict[str, Any]]
    unreadable: int


def read_jsonl(path: Path) -> JsonlRows:
    """The JSON object of each line; an unreadable line (a crash's half-written last line) is
    skipped and counted, not fatal. A vanished file (pruned meanwhile) has no rows."""
    rows: list[dict[str, Any]] = []
    unreadable = 0
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return JsonlRows(rows, 0)
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            unreadable += 1
            continue
        if isinstance(row, dict):
            rows.append(row)
        else:
            unreadable += 1
    if unreadable:
        log.warning("%s: skipped %d unreadable line(s)", path, unreadable)
    return JsonlRows(rows, unreadable)


class JsonlWriter(Generic[T]):  # pylint: disable=too-many-instance-attributes
    """Write queued items as rotated JSONL files in a background thread."""

    def __init__(  # pylint: disable=too-many-arguments
        self,
        directory: Path,
        prefix: str,
        rows: Callable[[T], Iterable[dict[str, Any]]],
        *,
        queue_size: int,
        max_file_rows: int,
        max_files: int | None = None,
    ) -> None:
        self.directory, self.prefix, self._rows = directory, prefix, rows
        self.max_file_rows, self.max_files = max_file_rows, max_files
        self.dropped = 0
        self.written = 0
        self._queue: queue.Queue[T | None] = queue.Queue(queue_size)
        self._thread = threading.Thread(target=self._write_loop, name=prefix, daemon=True)
        self._handle: TextIO | None = None
        self._rows_in_file = 0
        self._seq = 0

    def start(self) -> None:
        """Start the writer thread."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self._thread.start()

    def put(self, item: T) -> bool:
        """Queue an item; never blocks. Return False (and count it) when the queue is full."""
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self.dropped += 1
            return False
        return True

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued, then stop the thread."""
        if not self._thread.is_alive():
            return
        try:
            self._queue.put(None, timeout=timeout)
        except queue.Full:
            log.warning("%s queue still full after %.0f s; stopping anyway", self.prefix, timeout)
        self._thread.join(timeout)

    def _open(self) -> TextIO:
        if self.max_files is not None:
            files = jsonl_files(self.directory, self.prefix)
            # The file about to be written counts toward max_files.
            for old in files[: max(0, len(files) - self.max_files + 1)]:
                old.unlink(missing_ok=True)
        path, self._seq = new_jsonl_file(self.directory, self.prefix, self._seq)
        self._rows_in_file = 0
        return path.open("a", encoding="utf-8")

    def _write(self, item: T) -> None:
        for row in self._rows(item):
            if self._handle is None or self._rows_in_file >= self.max_file_rows:
                if self._handle is not None:
                    self._handle.close()
                self._handle = self._open()
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
                log.exception("%s: could not write a row; continuing", self.prefix)
        if self._handle is not None:
            self._handle.close()
            self._handle = None


class RecentIds:
    """The newest ids, each with a weight (rows it stands for), within a total weight."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._ids: OrderedDict[str, int] = OrderedDict()
        self._total = 0

    def add(self, key: str, weight: int = 1) -> None:
        """Remember `key`, forgetting the oldest ids beyond the limit."""
        old = self._ids.pop(key, None)
        if old is not None:
            self._total -= old
        self._ids[key] = weight
        self._total += weight
        while self._total > self.limit and len(self._ids) > 1:
            self._total -= self._ids.popitem(last=False)[1]

    def get(self, key: str) -> int | None:
        """The weight of `key`, or None when it is not (or no longer) remembered."""
        return self._ids.get(key)

    def __contains__(self, key: object) -> bool:
        return key in self._ids
