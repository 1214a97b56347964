"""Issue 15's check: a live `mlship serve` answers held-out rows, their labels arrive late by
POST /feedback, and `mlship monitor` turns them into gauges equal to an offline computation on
the same rows; a concept shift the inputs do not show ends in exactly one retrain dispatch."""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
import yaml
from path_import import import_file
from scipy.special import expit, logit
from sklearn import metrics as skm

from mlship.cli import main
from mlship.data.io import read_table
from mlship.config import Params, load_params
from mlship.model.artifact import load_model
from mlship.monitoring.live_check import role_metric
from mlship.tracking import file_md5

HELPERS = import_file(
    "serving_helpers", Path(__file__).resolve().parents[1] / "serving" / "serving_helpers.py"
)
TOKEN = "feedback-token-for-tests"
DELAYS = (30 * 60.0, 5 * 3600.0, 3 * 86400.0)  # <1h, 1h-24h, 24h-168h
KPI = {"kind": "cost_matrix", "false_positive": 10, "false_negative": 100}


@pytest.fixture(name="project")
def _project(
    trained_project: tuple[Path, Params], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """A copy of the trained project as the cwd, with one KPI and no alert threshold."""
    root, _ = trained_project
    for name in ("schema.yaml", "metrics.json"):
        shutil.copy(root / name, tmp_path / name)
    raw = yaml.safe_load((root / "params.yaml").read_text(encoding="utf-8"))
    raw["kpi"] = {"cost": KPI}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    shutil.copytree(root / "artifacts", tmp_path / "artifacts")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _serve(project: Path) -> Any:
    env = {
        "MLSHIP_CHAMPION": str(project / "artifacts/model"),
        "MLSHIP_RECORD_ENABLED": "true",
        "MLSHIP_RECORD_DIR": str(project / "records"),
        "MLSHIP_FEEDBACK_TOKEN": TOKEN,
    }
    return HELPERS.live_service(env, project, timeout=180)


def _replay(url: str, frame: pd.DataFrame, labels: list[Any]) -> Iterator[int]:
    """Predict `frame` in batches, then post each row's label as known some delay later."""
    columns = HELPERS.model_columns(Path("artifacts/model"))
    rows = HELPERS.records(frame, columns)
    with httpx.Client(base_url=url, timeout=60) as client:
        for start in range(0, len(rows), 50):
            answer = client.post("/predict", json={"records": rows[start : start + 50]})
            assert answer.status_code == 200, answer.text
            now = time.time()
            batch = [
                {
                    "id": item["request_id"],
                    "label": labels[start + i],
                    "timestamp": now + DELAYS[(start + i) % len(DELAYS)],
                }
                for i, item in enumerate(answer.json()["predictions"])
            ]
            sent = client.post(
                "/feedback", json={"labels": batch}, headers={"Authorization": f"Bearer {TOKEN}"}
            )
            assert sent.status_code == 200, sent.text
            yield sent.json()["accepted"]


def _gauge(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        match = re.fullmatch(rf"{name}\{{(.*)\}} (\S+)", line)
        if match and ",".join(sorted(match[1].split(","))) == wanted:
            return float(match[2])
    raise AssertionError(f"no {name}{{{wanted}}} in the gauges")


def _monitor(records: Path, *extra: str) -> int:
    return main(["monitor", "--records", str(records), "--window", "1000", *extra])


def test_live_gauges_equal_the_offline_metrics_on_the_same_rows(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    held_out = read_table(project / "artifacts/split/test.parquet")
    truth = held_out["churned"].tolist()
    with _serve(project) as url:
        accepted = sum(_replay(url, held_out, truth))
    assert accepted == len(held_out)
    assert _monitor(project / "records") == 0
    assert f"live performance on {len(held_out)} labelled rows: within bounds" in (
        capsys.readouterr().out
    )
    gauges = (project / "records/drift.prom").read_text(encoding="utf-8")

    model = load_model(project / "artifacts/model/model.skops")
    columns = HELPERS.model_columns(project / "artifacts/model")
    score = model.predict_proba(held_out[columns])[:, 1]
    y = held_out["churned"].to_numpy()
    flagged = score >= 0.5
    offline = {
        "roc_auc": skm.roc_auc_score(y, score),
        "log_loss": skm.log_loss(y, score),
        "precision": skm.precision_score(y, flagged),
        "recall": skm.recall_score(y, flagged),
    }
    version = "local-" + str(file_md5(project / "artifacts/model/model.skops"))[:8]
    where = {"version": version, "role": "champion", "delay": "all"}
    for name, value in offline.items():
        assert _gauge(gauges, "mlship_live_metric", metric=name, **where) == pytest.approx(
            value, abs=1e-9
        ), name
        low = _gauge(gauges, "mlship_live_metric_low", metric=name, **where)
        assert low <= value <= _gauge(gauges, "mlship_live_metric_high", metric=name, **where)
    assert _gauge(gauges, "mlship_live_labelled_rows", **where) == len(held_out)
    tn, fp, fn, tp = skm.confusion_matrix(y, flagged).ravel()
    assert _gauge(gauges, "mlship_kpi", kpi="cost", **where) == pytest.approx(
        (10 * fp + 100 * fn) / len(y)
    )
    assert tn + tp > 0
    by_delay = [
        _gauge(gauges, "mlship_live_labelled_rows", version=version, role="champion", delay=d)
        for d in ("<1h", "1h-24h", "24h-168h")
    ]
    assert sum(by_delay) == len(held_out) and min(by_delay) > 0
    # The canary guard reads the same labels per role (no challenger served here).
    guard = role_metric(load_params(project / "params.yaml"), project / "records", "roc_auc", 0.0)
    champion = guard["champion"]
    assert champion is not None and champion.value == pytest.approx(offline["roc_auc"], abs=1e-9)
    assert guard["challenger"] is None and champion.n == len(held_out)
    report = (project / "reports/monitor/live.md").read_text(encoding="utf-8")
    assert "**Live performance within bounds**" in report and "| roc_auc |" in report


def _reversed_labels(project: Path, frame: pd.DataFrame, feature: str) -> list[int]:
    """Labels drawn from the model with `feature`'s effect reversed, the inputs unchanged.

    The feature's contribution to a row's logit is the model's logit minus its logit with the
    feature at its most common value; the labels are drawn with that contribution's sign flipped.
    """
    model = load_model(project / "artifacts/model/model.skops")
    columns = HELPERS.model_columns(project / "artifacts/model")
    neutral = frame[columns].assign(**{feature: frame[feature].mode()[0]})

    def log_odds(rows: pd.DataFrame) -> Any:
        return logit(np.clip(model.predict_proba(rows)[:, 1], 1e-6, 1 - 1e-6))

    chance = expit(2 * log_odds(neutral) - log_odds(frame[columns]))
    return (np.random.default_rng(7).random(len(frame)) < chance).astype(int).tolist()


def test_a_concept_shift_is_caught_by_live_performance_and_retrains_once(
    project: Path, standin: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    held_out = read_table(project / "artifacts/split/test.parquet")
    labels = _reversed_labels(project, held_out, "contract")
    with _serve(project) as url:
        assert sum(_replay(url, held_out, labels)) == len(held_out)
    records = project / "records"
    for _ in range(3):
        assert _monitor(records, "--trigger") == 0
    out = capsys.readouterr().out
    assert out.count("no drift in") == 3  # the inputs did not move
    assert out.count("retrain triggered") == 1 and out.count("no trigger (cooling down") == 2
    dispatches = getattr(standin, "dispatches")
    assert len(dispatches) == 1 and dispatches[0]["event_type"] == "retrain"
    payload = dispatches[0]["client_payload"]
    assert payload["drifted_features"] == [] and payload["labelled_rows"] == len(held_out)
    assert payload["reason"].startswith("live roc_auc")
    gauges = (records / "drift.prom").read_text(encoding="utf-8")
    assert "mlship_drift_detected 0.0" in gauges and "mlship_concept_drift_detected 1.0" in gauges
