"""Live performance on labelled rows: the same numbers as scikit-learn, intervals, counts."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from mlship.config import CostMatrixKpi, MonitorParams, ValueCapturedKpi
from mlship.monitoring.live import (
    ModelTarget,
    cast_labels,
    concept_drift_reasons,
    delay_labels,
    live_performance,
)

BINARY = ModelTarget("binary", (0, 1), 1, 0.4)
PARAMS = MonitorParams(resamples=200, window_rows=None, min_labelled_rows=50)


def _rows(n: int, seed: int = 0, **columns: Any) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    label = rng.integers(0, 2, n)
    score = np.clip(0.3 * label + rng.random(n) * 0.7, 0.0, 1.0)
    ts = 1_000_000.0 + np.arange(n, dtype=float)
    frame = pd.DataFrame(
        {
            "request_id": [f"r{i}" for i in range(n)],
            "ts": ts,
            "label_ts": ts + rng.choice([60.0, 7200.0, 200_000.0], n),
            "role": "champion",
            "version": "3",
            "predicted": (score >= 0.5).astype(int),
            "prediction": score,
            "label": label,
        }
    )
    frame["delay_s"] = frame["label_ts"] - frame["ts"]
    return frame.assign(**columns)


def test_binary_metrics_equal_sklearn_and_intervals_contain_them() -> None:
    rows = _rows(400)
    perf = live_performance(rows, BINARY, PARAMS, {}, now=2e6)
    (overall,) = perf.overall("champion")
    y, p = rows["label"].to_numpy(), rows["prediction"].to_numpy()
    expected = {
        "roc_auc": skm.roc_auc_score(y, p),
        "log_loss": skm.log_loss(y, p),
        "precision": skm.precision_score(y, p >= 0.4),
        "recall": skm.recall_score(y, p >= 0.4),
    }
    assert overall.n == 400 and perf.invalid_labels == 0
    for name, value in expected.items():
        figure = overall.metric(name)
        assert figure is not None and figure.value == pytest.approx(value, abs=1e-9)
        assert figure.low <= figure.value <= figure.high and figure.n == 400


def test_delay_buckets_partition_the_labelled_rows() -> None:
    rows = _rows(300)
    perf = live_performance(rows, BINARY, PARAMS, {}, now=2e6)
    buckets = {s.delay: s.n for s in perf.slices if s.delay != "all"}
    assert buckets == {
        name: count
        for name, count in pd.Series(delay_labels(rows["delay_s"], (1, 24, 168)))
        .value_counts()
        .items()
    }
    assert set(buckets) == {"<1h", "1h-24h", "24h-168h"} and sum(buckets.values()) == 300


def test_window_keeps_the_newest_rows_of_each_version() -> None:
    rows = pd.concat([_rows(300), _rows(100, seed=1, version="4")], ignore_index=True)
    params = PARAMS.model_copy(update={"window_rows": 120})
    perf = live_performance(rows, BINARY, params, {}, now=2e6)
    assert {(s.version, s.n) for s in perf.overall("champion")} == {("3", 120), ("4", 100)}
    recent = PARAMS.model_copy(update={"window_hours": 50 / 3600})
    (part,) = live_performance(_rows(300), BINARY, recent, {}, now=1_000_299.0).overall("champion")
    assert part.n == 51


def test_labels_that_cannot_be_cast_are_counted_not_fatal() -> None:
    rows = _rows(100).astype({"label": object})
    rows.loc[:2, "label"] = ["yes", None, 7]
    rows.loc[3:5, "label"] = ["1", 0.0, True]
    perf = live_performance(rows, BINARY, PARAMS, {}, now=2e6)
    assert perf.invalid_labels == 4  # "yes", None, an unknown class 7, a boolean
    assert perf.overall("champion")[0].n == 96
    assert cast_labels(pd.Series(["2.5", "x", False]), ModelTarget("regression")).tolist()[0] == 2.5


def test_multiclass_accuracy_macro_f1_and_log_loss_from_probabilities() -> None:
    rng = np.random.default_rng(2)
    classes = ("a", "b", "c")
    proba = rng.dirichlet([1, 1, 1], 200)
    label = rng.choice(list(classes), 200)
    rows = _rows(200).assign(
        label=label,
        predicted=[classes[i] for i in proba.argmax(axis=1)],
        probabilities=[dict(zip(classes, row)) for row in proba.tolist()],
    )
    target = ModelTarget("multiclass", classes)
    (part,) = live_performance(rows, target, PARAMS, {}, now=2e6).overall("champion")
    predicted = rows["predicted"]
    assert part.metric("accuracy").value == pytest.approx(skm.accuracy_score(label, predicted))
    assert part.metric("macro_f1").value == pytest.approx(
        skm.f1_score(label, predicted, average="macro")
    )
    assert part.metric("log_loss").value == pytest.approx(
        skm.log_loss(label, proba, labels=list(classes))
    )
    without = rows.drop(columns="probabilities")
    (bare,) = live_performance(without, target, PARAMS, {}, now=2e6).overall("champion")
    assert [m.name for m in bare.metrics] == ["accuracy", "macro_f1"]
    assert bare.metric("accuracy").value == part.metric("accuracy").value


def test_regression_mae_and_rmse_equal_sklearn() -> None:
    rng = np.random.default_rng(3)
    truth = rng.normal(size=150)
    rows = _rows(150).assign(label=truth, predicted=truth + rng.normal(scale=0.5, size=150))
    (part,) = live_performance(rows, ModelTarget("regression"), PARAMS, {}, now=2e6).overall(
        "champion"
    )
    assert part.metric("mae").value == pytest.approx(
        skm.mean_absolute_error(truth, rows["predicted"])
    )
    assert part.metric("rmse").value == pytest.approx(
        skm.root_mean_squared_error(truth, rows["predicted"])
    )


def test_kpis_are_per_row_averages_of_the_confusion_at_the_threshold() -> None:
    rows = _rows(300)
    kpis = {
        "cost": CostMatrixKpi(kind="cost_matrix", false_positive=5, false_negative=50),
        "value": ValueCapturedKpi(kind="value_captured", true_positive=100, false_positive=5),
    }
    (part,) = live_performance(rows, BINARY, PARAMS, kpis, now=2e6).overall("champion")
    tn, fp, fn, tp = skm.confusion_matrix(rows["label"], rows["prediction"] >= 0.4).ravel()
    cost, value = part.kpis
    assert cost.value == pytest.approx((5 * fp + 50 * fn) / 300)
    assert value.value == pytest.approx((100 * tp - 5 * fp) / 300)
    assert cost.low <= cost.value <= cost.high and value.n == 300 and tn > 0


def test_concept_drift_needs_the_whole_interval_below_training_minus_margin() -> None:
    rows = _rows(400)
    perf = live_performance(rows, BINARY, PARAMS, {}, now=2e6)
    auc = perf.overall("champion")[0].metric("roc_auc")
    assert auc is not None
    assert concept_drift_reasons(perf, {"roc_auc": auc.value}, PARAMS, {}) == []
    reasons = concept_drift_reasons(perf, {"roc_auc": auc.high + 0.06}, PARAMS, {})
    assert len(reasons) == 1 and reasons[0].startswith("live roc_auc")
    few = PARAMS.model_copy(update={"min_labelled_rows": 401})
    assert concept_drift_reasons(perf, {"roc_auc": 1.0}, few, {}) == []


def test_a_kpi_beyond_its_alert_threshold_is_a_reason() -> None:
    kpis = {"cost": CostMatrixKpi(kind="cost_matrix", false_positive=5, false_negative=50)}
    perf = live_performance(_rows(400), BINARY, PARAMS, kpis, now=2e6)
    cost = perf.overall("champion")[0].kpis[0]
    alert = {"cost": kpis["cost"].model_copy(update={"alert_threshold": cost.low - 0.01})}
    calm = {"cost": kpis["cost"].model_copy(update={"alert_threshold": cost.high + 0.01})}
    assert concept_drift_reasons(perf, {}, PARAMS, calm) == []
    (reason,) = concept_drift_reasons(perf, {}, PARAMS, alert)
    assert reason.startswith("KPI cost")
