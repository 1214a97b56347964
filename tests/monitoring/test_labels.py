"""The label store and its join with the recorded rows: first label wins, counts, torn lines."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from mlship.monitoring.labels import (
    FeedbackStore,
    Label,
    epoch_seconds,
    feedback_files,
    join_labels,
)
from mlship.monitoring.recorder import Recorder, RecordSettings, record_files


def _recorded(directory: Path, known_ids: int = 1000) -> Recorder:
    """A real recorder that wrote one single-record request `one` and a 3-row batch `many`."""
    recorder = Recorder(RecordSettings(dir=directory, known_ids=known_ids)).start()
    recorder.record(
        "champion", "7", {"x": [1.0]}, [0.9], request_id="one", batch=False, predicted=[True]
    )
    recorder.record(
        "challenger",
        "8",
        {"x": [2.0, 3.0, 4.0]},
        [0.6, 0.5, 0.7],
        request_id="many",
        batch=True,
        predicted=["b", "a", "c"],
        probabilities=[
            {"a": 0.2, "b": 0.6, "c": 0.2},
            {"a": 0.5, "b": 0.3, "c": 0.2},
            {"a": 0.1, "b": 0.2, "c": 0.7},
        ],
    )
    return recorder


def _store(directory: Path, recorder: Recorder) -> FeedbackStore:
    return FeedbackStore(
        directory, recorder.knows, queue_size=10, max_file_rows=100, remembered=1000
    ).start()


def test_join_pairs_each_first_label_with_its_recorded_row(tmp_path: Path) -> None:
    recorder = _recorded(tmp_path)
    store = _store(tmp_path, recorder)
    counts = store.add(
        [
            Label("many/2", "c", None),
            Label("one", True, None),
            Label("one", False, None),
            Label("many/9", "a", None),
            Label("ghost", 1, None),
        ]
    )
    assert (counts.accepted, counts.duplicates, counts.unknown) == (2, 1, 2)
    store.close()
    recorder.close()
    labelled = join_labels(tmp_path)
    rows = labelled.rows
    assert rows["request_id"].tolist() == ["one", "many/2"]  # oldest prediction first
    assert rows["label"].tolist() == [True, "c"]
    assert rows["predicted"].tolist() == [True, "c"]
    assert rows["prediction"].tolist() == [0.9, 0.7]
    assert rows["x"].tolist() == [1.0, 4.0]
    assert rows["role"].tolist() == ["champion", "challenger"]
    assert rows["probabilities"].tolist()[1] == {"a": 0.1, "b": 0.2, "c": 0.7}
    assert list(rows.columns[:9]) == [
        "request_id",
        "ts",
        "label_ts",
        "delay_s",
        "role",
        "version",
        "predicted",
        "prediction",
        "label",
    ]
    assert ((rows["label_ts"] - rows["ts"]) == rows["delay_s"]).all()
    # The store kept the unknown ids (a restart would make real ones unknown): the join counts them.
    assert (labelled.unknown, labelled.duplicates, labelled.expired) == (2, 0, 0)


def test_a_torn_last_line_is_skipped_and_counted_not_fatal(tmp_path: Path) -> None:
    recorder = _recorded(tmp_path)
    recorder.close()
    store = _store(tmp_path, recorder)
    store.add([Label("one", 1, None), Label("many/0", 0, None)])
    store.close()
    (feedback,) = feedback_files(tmp_path)
    with feedback.open("a", encoding="utf-8") as handle:
        handle.write('{"id": "many/1", "label": 1, "label_')  # the crash's half line
    with record_files(tmp_path)[-1].open("a", encoding="utf-8") as handle:
        handle.write('{"x": 5.0, "ts": 1')
    labelled = join_labels(tmp_path)
    assert sorted(labelled.rows["request_id"]) == ["many/0", "one"]
    assert labelled.unreadable == 2


def test_labels_later_than_max_delay_are_expired(tmp_path: Path) -> None:
    recorder = _recorded(tmp_path)
    store = _store(tmp_path, recorder)
    now = time.time()
    store.add([Label("one", 1, now + 7200), Label("many/0", 0, now + 60)])
    store.close()
    recorder.close()
    assert len(join_labels(tmp_path).rows) == 2
    within_an_hour = join_labels(tmp_path, max_delay_s=3600)
    assert within_an_hour.rows["request_id"].tolist() == ["many/0"]
    assert within_an_hour.expired == 1


def test_a_restarted_store_counts_ids_labelled_before_as_duplicates(tmp_path: Path) -> None:
    recorder = _recorded(tmp_path)
    first = _store(tmp_path, recorder)
    first.add([Label("one", 1, None)])
    first.close()
    again = _store(tmp_path, recorder)
    counts = again.add([Label("one", 0, None), Label("many/1", 1, None)])
    again.close()
    recorder.close()
    assert (counts.accepted, counts.duplicates) == (1, 1)
    lines = [line for path in feedback_files(tmp_path) for line in path.read_text().splitlines()]
    assert sorted(json.loads(line)["id"] for line in lines) == ["many/1", "one"]


def test_the_recorder_remembers_only_the_newest_ids_within_its_bound(tmp_path: Path) -> None:
    recorder = _recorded(tmp_path, known_ids=3)  # `one` (1 row) is forgotten for `many` (3)
    recorder.close()
    assert not recorder.knows("one")
    assert [recorder.knows(f"many/{i}") for i in range(4)] == [True, True, True, False]
    assert not recorder.knows("many") and not recorder.knows("many/x")


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (1_700_000_000, 1_700_000_000.0),
        ("2026-12-01T10:00:00+01:00", 1_796_115_600.0),
        ("2026-12-01T09:00:00", 1_796_115_600.0),  # no offset: UTC
    ],
)
def test_timestamps_are_epoch_seconds_or_iso_8601(value: float | str, seconds: float) -> None:
    assert epoch_seconds(value) == seconds


@pytest.mark.parametrize("value", ["yesterday", float("nan"), True])
def test_a_timestamp_that_is_no_time_is_refused(value: float | str) -> None:
    with pytest.raises(ValueError, match="timestamp"):
        epoch_seconds(value)


def test_the_first_label_to_arrive_wins_whatever_file_holds_it(tmp_path: Path) -> None:
    recorder = _recorded(tmp_path)
    recorder.close()
    now = time.time()
    # The service's file, opened first, gets a label for `one` after an ingest's file did.
    older_file = tmp_path / "feedback-20261201T100000-000001.jsonl"
    newer_file = tmp_path / "feedback-20261201T100500-000001.jsonl"
    late = {"id": "one", "label": "late", "label_ts": now + 20, "received_ts": now + 20}
    early = {"id": "one", "label": "early", "label_ts": now + 10, "received_ts": now + 10}
    older_file.write_text(json.dumps(late) + "\n", encoding="utf-8")
    newer_file.write_text(json.dumps(early) + "\n", encoding="utf-8")
    labelled = join_labels(tmp_path)
    assert labelled.rows["label"].tolist() == ["early"] and labelled.duplicates == 1
