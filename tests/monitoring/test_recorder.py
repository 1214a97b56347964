"""The live recorder: sampled, bounded (never blocks), rotated on disk, wired into the service."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from mlship.config import Params
from mlship.monitoring.recorder import Recorder, RecordSettings, read_recent, record_files
from mlship.serving.app import create_app
from mlship.serving.settings import ServeSettings


def _columns(start: int, rows: int) -> dict[str, list[object]]:
    return {"x": list(range(start, start + rows)), "city": ["a"] * rows}


def _record(recorder: Recorder, start: int, observed: list[float]) -> bool:
    rows = len(observed)
    return recorder.record(
        "champion",
        "1",
        _columns(start, rows),
        observed,
        request_id=f"r{start}",
        batch=rows > 1,
        predicted=[p > 0.5 for p in observed],
    )


def test_sampling_records_about_the_configured_share_of_requests(tmp_path: Path) -> None:
    settings = RecordSettings(dir=tmp_path, sample_rate=0.25, seed=7)
    recorder = Recorder(settings).start()
    for i in range(400):
        _record(recorder, i, [0.5])
    recorder.close()
    assert 70 <= recorder.recorded <= 130
    assert len(read_recent(tmp_path, 10_000)) == recorder.recorded == recorder.written


def test_a_full_queue_drops_records_instead_of_blocking_the_request(tmp_path: Path) -> None:
    recorder = Recorder(RecordSettings(dir=tmp_path, queue_size=2))  # writer not started
    queued: list[bool] = []
    # In a thread: a blocking put() would hang it, and the test reports that instead of hanging.
    caller = threading.Thread(
        target=lambda: queued.extend(_record(recorder, i, [0.1]) for i in range(50)),
        daemon=True,
    )
    caller.start()
    caller.join(timeout=30)
    assert not caller.is_alive(), "record() blocked on a full queue"
    assert queued[:2] == [True, True] and not any(queued[2:])
    assert recorder.dropped == 48


def test_files_rotate_by_rows_and_only_the_newest_are_kept(tmp_path: Path) -> None:
    settings = RecordSettings(dir=tmp_path, max_file_rows=10, max_files=3)
    recorder = Recorder(settings).start()
    for i in range(11):
        _record(recorder, i * 5, [0.2] * 5)
    recorder.close()
    files = record_files(tmp_path)
    assert len(files) == 3
    lines = [len(f.read_text(encoding="utf-8").splitlines()) for f in files]
    assert lines == [10, 10, 5]
    recent = read_recent(tmp_path, 12)
    assert recent["x"].tolist() == list(range(43, 55))
    assert set(recent.columns) >= {"x", "city", "ts", "role", "version", "prediction"}


def test_service_records_each_prediction_and_serves_the_monitor_gauges(
    trained_project: tuple[Path, Params], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, params = trained_project
    model_dir = root / params.paths.model_dir
    held_out = pd.read_parquet(root / params.paths.split_dir / "test.parquet").head(20)
    records_dir = tmp_path / "records"
    monkeypatch.setenv("MLSHIP_RECORD_ENABLED", "true")
    monkeypatch.setenv("MLSHIP_RECORD_DIR", str(records_dir))
    settings = ServeSettings(champion=str(model_dir))
    with TestClient(create_app(settings)) as client:
        columns = [*params.data.numeric, *params.data.categorical]
        body = [
            {k: None if pd.isna(v) else v for k, v in row.items()}
            for row in held_out[columns].to_dict(orient="records")
        ]
        answer = client.post("/predict", json={"records": body})
        assert answer.status_code == 200
        (records_dir / "drift.prom").write_text("mlship_drift_detected 1.0\n", encoding="utf-8")
        metrics = client.get("/metrics").text
    assert "mlship_drift_detected 1.0" in metrics
    recorded = read_recent(records_dir, 100)
    assert len(recorded) == 20
    probabilities = [p["probability"] for p in answer.json()["predictions"]]
    assert recorded["prediction"].round(9).tolist() == pd.Series(probabilities).round(9).tolist()
    first = json.loads(record_files(records_dir)[0].read_text(encoding="utf-8").splitlines()[0])
    assert first["role"] == "champion" and first["tenure_months"] == body[0]["tenure_months"]
