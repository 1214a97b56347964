"""One drift check as the CLI, the monitor and the retrain loop run it: frames, model, reports."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlship.config import Params
from mlship.data.io import class_labels, model_frame, read_table
from mlship.errors import DataError
from mlship.files import read_json_or_none
from mlship.model.artifact import load_metadata, load_model
from mlship.model.metrics import HIGHER_IS_BETTER, compute_metrics
from mlship.model.scoring import Labels, encode_target, predict_scores
from mlship.monitoring.drift import detect_drift
from mlship.monitoring.drift_report import write_reports
from mlship.monitoring.results import DriftResult


@dataclass(frozen=True)
class Scored:
    """The model's scores on the reference and current frames, and its metric on each."""

    reference: np.ndarray
    current: np.ndarray
    metric: str | None
    reference_metric: float | None
    current_metric: float | None


def newest_batch(batches_dir: Path) -> Path:
    """Return the newest batch file (names sort by month: 2026-07.csv)."""
    found = sorted(
        p for p in batches_dir.glob("*") if p.suffix in {".csv", ".parquet"} and p.is_file()
    )
    if not found:
        raise DataError(f"no data batch in {batches_dir} (run `mlship ingest` first)")
    return found[-1]


def gated_metric(params: Params) -> str:
    """The metric whose drop counts as performance drift: retrain.metric, else the first gated."""
    if params.retrain.metric:
        return params.retrain.metric
    if params.gate.metrics:
        return next(iter(params.gate.metrics))
    return {"binary": "roc_auc", "multiclass": "accuracy", "regression": "r2"}[params.data.task]


def _oriented(metric: str, value: float) -> float:
    # detect_drift compares higher-is-better values; flip a loss so its rise is a drop.
    return value if HIGHER_IS_BETTER.get(metric, True) else -value


def _held_out_metric(path: Path, metric: str) -> float | None:
    value = (read_json_or_none(path) or {}).get(metric)
    return float(value) if isinstance(value, (int, float)) and np.isfinite(value) else None


def score_frames(
    params: Params, model_dir: Path, reference: pd.DataFrame, current: pd.DataFrame
) -> Scored:
    """Score both frames with the model in `model_dir`; the metric on labelled current rows."""
    data = params.data
    meta = load_metadata(model_dir / "model.json")
    pipeline = load_model(model_dir / "model.skops", meta.get("trusted_types", []))
    labels = Labels.from_model(pipeline, data)
    # The champion's scores on its training rows are overconfident (it has seen them): the
    # reference predictions are its scores on the held-out rows when they are there.
    rows = params.paths.split_dir / "test.parquet"
    pred_reference = prepare(read_table(rows), params) if rows.is_file() else reference
    scores = []
    for frame in (pred_reference, current):
        raw = predict_scores(pipeline, frame[data.features], labels, data.task)
        # Prediction drift is tested on one column: P(positive), the top class, or the value.
        scores.append(raw.argmax(axis=1).astype(np.float64) if raw.ndim == 2 else raw)
    metric = gated_metric(params)
    values: list[float | None] = [None, None]
    # The reference metric is the champion's held-out one: on its training rows it is inflated.
    held_out = _held_out_metric(params.paths.metrics, metric)
    values[0] = None if held_out is None else _oriented(metric, held_out)
    known = current[data.target].notna().to_numpy() if data.target in current.columns else None
    if known is not None and known.sum() >= 2 and values[0] is not None:
        y = encode_target(current.loc[known, data.target], labels, data.task)
        raw = predict_scores(pipeline, current.loc[known, data.features], labels, data.task)
        try:
            found = compute_metrics(data.task, y, raw, params.evaluate.threshold)
        except ValueError:  # one class only in the batch: the metric is undefined
            found = {}
        if np.isfinite(found.get(metric, np.nan)):
            values[1] = _oriented(metric, found[metric])
    return Scored(scores[0], scores[1], metric, values[0], values[1])


def prepare(frame: pd.DataFrame, params: Params) -> pd.DataFrame:
    """The features with the model's dtypes, plus the target when the frame has it."""
    out = model_frame(frame, params.data)
    if params.data.target in frame.columns:
        out[params.data.target] = class_labels(frame[params.data.target])
    return out


def check(
    params: Params,
    reference: pd.DataFrame,
    current: pd.DataFrame,
    model_dir: Path | None = None,
) -> DriftResult:
    """Run detect_drift with the params' columns and thresholds, scoring with the model if given."""
    data = params.data
    reference, current = prepare(reference, params), prepare(current, params)
    extra: dict[str, Any] = {}
    if model_dir is not None and (model_dir / "model.skops").is_file():
        scored = score_frames(params, model_dir, reference, current)
        extra = {"reference_pred": scored.reference, "current_pred": scored.current}
        if scored.reference_metric is not None and scored.current_metric is not None:
            extra["reference_metric"] = scored.reference_metric
            extra["current_metric"] = scored.current_metric
            extra["metric_name"] = scored.metric
    return detect_drift(
        reference, current, list(data.numeric), list(data.categorical), params.drift, **extra
    )


def run_check(
    params: Params,
    reference_path: Path,
    current_path: Path,
    out_dir: Path,
    model_dir: Path | None = None,
) -> tuple[DriftResult, dict[str, Path]]:
    """Read both files, check, and write drift.json/.md/.html into `out_dir`."""
    reference = read_table(reference_path)
    current = read_table(current_path)
    result = check(params, reference, current, model_dir)
    return result, write_reports(result, reference, current, out_dir)
