"""`mlship ingest`, `mlship drift` and `mlship monitor` on a trained project, end to end."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mlship.cli import main
from mlship.config import Params
from mlship.data.io import read_table
from mlship.io.github import GitHub
from mlship.monitoring.recorder import Recorder, RecordSettings


@pytest.fixture(name="project")
def _project(
    trained_project: tuple[Path, Params], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """A copy of the trained project as the cwd (the reports go into the copy)."""
    root, _ = trained_project
    for name in ("params.yaml", "schema.yaml", "metrics.json"):
        shutil.copy(root / name, tmp_path / name)
    shutil.copytree(root / "artifacts", tmp_path / "artifacts")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_ingest_writes_the_same_batch_for_the_same_month_and_scenario(project: Path) -> None:
    assert main(["ingest", "--month", "2026-07", "--scenario", "drifted"]) == 0
    first = (project / "data/batches/2026-07.csv").read_bytes()
    assert main(["ingest", "--month", "2026-07", "--scenario", "drifted"]) == 0
    assert (project / "data/batches/2026-07.csv").read_bytes() == first
    assert main(["ingest", "--month", "2026-08"]) == 0
    assert (project / "data/batches/2026-08.csv").read_bytes() != first


def test_ingest_rejects_a_malformed_month_in_one_line(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ingest", "--month", "2026-13"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "mlship ingest: error: month must be YYYY-MM, got '2026-13'"
    assert not (project / "data").exists()


def test_drift_on_a_stable_batch_exits_zero_and_writes_three_reports(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["ingest", "--month", "2026-08", "--scenario", "stable"])
    assert main(["drift", "--fail-on-drift"]) == 0
    assert "no drift in data/batches/2026-08.csv" in capsys.readouterr().out
    report = json.loads((project / "reports/drift/drift.json").read_text(encoding="utf-8"))
    assert report["drifted"] is False and report["performance"] is not None
    assert (project / "reports/drift/drift.html").read_text(encoding="utf-8").startswith("<!")


def test_drift_on_a_drifted_batch_fails_only_with_fail_on_drift(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["ingest", "--month", "2026-07", "--scenario", "drifted"])
    assert main(["drift", "--no-model"]) == 0
    assert "drift detected" in capsys.readouterr().out
    assert main(["drift", "--no-model", "--fail-on-drift"]) == 6
    err = capsys.readouterr().err
    assert err.startswith("mlship drift: error: drift detected") and "monthly_charges" in err
    markdown = (project / "reports/drift/drift.md").read_text(encoding="utf-8")
    assert markdown.startswith("### **Drift detected**")


def test_drift_without_any_batch_says_what_to_run(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    del project
    assert main(["drift"]) == 3
    assert "run `mlship ingest` first" in capsys.readouterr().err


def _record(records: Path, batch: Path) -> None:
    frame = read_table(batch).drop(columns=["churned", "customer_id", "month"])
    recorder = Recorder(RecordSettings(dir=records)).start()
    for start in range(0, len(frame), 100):
        chunk = frame.iloc[start : start + 100]
        columns = {c: chunk[c].where(chunk[c].notna(), None).tolist() for c in chunk.columns}
        observed = [0.5] * len(chunk)
        recorder.record(
            "champion",
            "1",
            columns,
            observed,
            request_id=f"req{start}",
            batch=True,
            predicted=[False] * len(chunk),
        )
    recorder.close()


def test_monitor_exports_gauges_and_triggers_one_retrain_per_cooldown(
    project: Path, standin: object, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["ingest", "--month", "2026-07", "--scenario", "drifted"])
    records = project / "records"
    _record(records, project / "data/batches/2026-07.csv")
    assert main(["monitor", "--records", str(records), "--window", "1500", "--trigger"]) == 0
    out = capsys.readouterr().out
    assert "drift in 1500 rows" in out and "retrain triggered" in out
    gauges = (records / "drift.prom").read_text(encoding="utf-8")
    assert "mlship_drift_detected 1.0" in gauges
    assert 'mlship_drift_feature_drifted{feature="monthly_charges"} 1.0' in gauges
    assert main(["monitor", "--records", str(records), "--window", "1500", "--trigger"]) == 0
    assert "no trigger (cooling down" in capsys.readouterr().out
    dispatches = getattr(standin, "dispatches")
    assert len(dispatches) == 1
    assert dispatches[0]["event_type"] == "retrain"
    assert "monthly_charges" in dispatches[0]["client_payload"]["drifted_features"]


def test_pull_request_and_issue_upserts_touch_one_item_each(standin: object) -> None:
    github = GitHub.from_env()
    try:
        opened = github.upsert_pull("retrain/2026-07", "main", "Retrain", "first")
        updated = github.upsert_pull("retrain/2026-07", "main", "Retrain", "second")
        issue = github.upsert_issue("Batch failed", "one", "mlship-retrain")
        again = github.upsert_issue("Batch failed", "two", "mlship-retrain")
    finally:
        github.close()
    assert (opened["action"], updated["action"]) == ("opened", "updated")
    assert opened["number"] == updated["number"]
    assert (issue["action"], again["action"]) == ("opened", "updated")
    pulls, issues = getattr(standin, "pulls"), getattr(standin, "issues")
    assert [p["body"] for p in pulls] == ["second"] and [i["body"] for i in issues] == ["two"]
