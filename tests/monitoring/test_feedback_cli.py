"""`mlship feedback ingest FILE`: bulk labels from CSV or Parquet into the feedback store."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import pytest

from mlship.cli import main
from mlship.errors import ExitCode
from mlship.monitoring.labels import join_labels
from mlship.monitoring.recorder import Recorder, RecordSettings


@pytest.fixture(name="records")
def _records(tmp_path: Path) -> Path:
    """Records of a batch `007` of four rows, written by the real recorder."""
    directory = tmp_path / "records"
    recorder = Recorder(RecordSettings(dir=directory)).start()
    recorder.record(
        "champion",
        "1",
        {"x": [1.0, 2.0, 3.0, 4.0]},
        [0.1, 0.8, 0.4, 0.9],
        request_id="007",
        batch=True,
        predicted=[False, True, False, True],
    )
    recorder.close()
    return directory


def test_ingest_from_csv_appends_labels_and_counts_them(
    records: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    labels = tmp_path / "labels.csv"
    # Ids look numeric-ish ("007/0"): read as text, never as numbers.
    labels.write_text("id,label\n007/0,0\n007/1,1\n007/1,0\nnot-recorded,1\n", encoding="utf-8")
    assert main(["feedback", "ingest", str(labels), "--records", str(records)]) == 0
    out = capsys.readouterr().out
    assert "2 accepted, 1 duplicates, 1 unknown" in out
    joined = join_labels(records)
    assert joined.rows.set_index("request_id")["label"].to_dict() == {"007/0": 0, "007/1": 1}
    assert joined.unknown == 1

    assert main(["feedback", "ingest", str(labels), "--records", str(records)]) == 0
    assert "0 accepted, 4 duplicates, 0 unknown" in capsys.readouterr().out
    assert len(join_labels(records).rows) == 2


def test_ingest_from_parquet_with_timestamps_counts_expired_labels(
    records: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    now = time.time()
    frame = pd.DataFrame(
        {
            "id": ["007/2", "007/3"],
            "label": [True, False],
            "timestamp": pd.to_datetime([now + 3 * 3600, now + 60], unit="s"),
        }
    )
    labels = tmp_path / "labels.parquet"
    frame.to_parquet(labels)
    code = main(
        ["feedback", "ingest", str(labels), "--records", str(records), "--max-delay-hours", "2"]
    )
    assert code == 0
    assert "2 accepted, 0 duplicates, 0 unknown, 1 expired (later than 2 h)" in (
        capsys.readouterr().out
    )
    rows = join_labels(records).rows.set_index("request_id")
    assert rows["label"].to_dict() == {"007/2": True, "007/3": False}
    assert rows.loc["007/2", "delay_s"] == pytest.approx(3 * 3600, abs=120)
    assert join_labels(records, max_delay_s=7200).expired == 1


def test_a_missing_file_or_column_is_one_clear_error(
    records: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nowhere.csv"
    assert main(["feedback", "ingest", str(missing), "--records", str(records)]) == ExitCode.DATA
    assert capsys.readouterr().err.strip() == (
        f"mlship feedback: error: {missing}: data file not found"
    )
    no_label = tmp_path / "ids.csv"
    no_label.write_text("id,truth\n007/0,1\n", encoding="utf-8")
    assert main(["feedback", "ingest", str(no_label), "--records", str(records)]) == ExitCode.DATA
    err = capsys.readouterr().err
    assert "missing column(s) label" in err and len(err.strip().splitlines()) == 1
    blank = tmp_path / "blank.csv"
    blank.write_text("id,label\n007/0,\n", encoding="utf-8")
    assert main(["feedback", "ingest", str(blank), "--records", str(records)]) == ExitCode.DATA
    assert "row 2: id and label must both be given" in capsys.readouterr().err
    assert join_labels(records).rows.empty  # nothing of a refused file was stored
