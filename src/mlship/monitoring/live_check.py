"""Live performance of the served models from the files: labels joined to the records."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from mlship.config import Params
from mlship.files import read_json_or_none
from mlship.model.artifact import load_metadata
from mlship.monitoring.labels import join_labels
from mlship.monitoring.live import (
    Estimate,
    LiveCheck,
    ModelTarget,
    concept_drift_reasons,
    live_performance,
)


def training_metrics(params: Params) -> dict[str, float]:
    """The served model's held-out metrics at training (metrics.json), empty when absent."""
    raw = read_json_or_none(params.paths.metrics) or {}
    return {k: float(v) for k, v in raw.items() if isinstance(v, (int, float))}


def model_target(params: Params) -> ModelTarget:
    """The champion's task, classes and decision threshold, from model.json and params."""
    meta = load_metadata(params.paths.model_dir / "model.json")
    return ModelTarget(
        params.data.task,
        tuple(meta.get("classes") or ()),
        int(meta.get("positive_index", 1)),
        params.evaluate.threshold,
    )


def live_check(params: Params, records: Path, now: float | None = None) -> LiveCheck | None:
    """Join the labels to the recorded predictions and judge them; None when no label came."""
    settings = params.monitor
    hours = settings.max_label_delay_hours
    labelled = join_labels(records, max_delay_s=None if hours is None else hours * 3600)
    if labelled.rows.empty and not (labelled.unknown or labelled.expired or labelled.duplicates):
        return None
    now = time.time() if now is None else now
    performance = live_performance(labelled.rows, model_target(params), settings, params.kpi, now)
    performance = replace(
        performance,
        unknown=labelled.unknown,
        expired=labelled.expired,
        duplicates=labelled.duplicates,
    )
    training = training_metrics(params)
    reasons = concept_drift_reasons(performance, training, settings, params.kpi)
    return LiveCheck(performance, training, reasons)


def role_metric(
    params: Params, records: Path, metric: str, since: float
) -> dict[str, Estimate | None]:
    """`metric` on the labelled predictions made since `since`, for champion and challenger."""
    rows = join_labels(records).rows
    rows = rows[rows["ts"] >= since]
    settings = params.monitor.model_copy(
        update={"metrics": (metric,), "window_rows": None, "window_hours": None}
    )
    performance = live_performance(rows, model_target(params), settings, {}, time.time())
    return {
        role: next((part.metric(metric) for part in performance.overall(role)), None)
        for role in ("champion", "challenger")
    }
