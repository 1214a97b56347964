"""Drift of the model's outputs: its predictions, tested like a column, and its performance."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, r2_score, roc_auc_score

from mlship.config import DriftSettings
from mlship.errors import DataError
from mlship.monitoring.columns import categorical_stats, column_drift, numeric_stats
from mlship.monitoring.results import ColumnDrift, PerformanceDrift


def _as_series(values: Any, name: str) -> pd.Series[Any]:
    series = values if isinstance(values, pd.Series) else pd.Series(np.asarray(values))
    if series.empty:
        raise DataError(f"{name} is empty")
    return series.reset_index(drop=True)


def _is_numeric(series: pd.Series[Any]) -> bool:
    return bool(
        pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype)
    )


def prediction_drift(
    reference_pred: Any, current_pred: Any, settings: DriftSettings
) -> ColumnDrift:
    """Test the predictions like a column: KS + PSI for float scores, chi-square for labels."""
    ref = _as_series(reference_pred, "reference_pred")
    cur = _as_series(current_pred, "current_pred")
    if _is_numeric(ref) and _is_numeric(cur) and pd.api.types.is_float_dtype(ref.dtype):
        raw = numeric_stats("prediction", ref, cur, settings)
    else:
        raw = categorical_stats("prediction", ref, cur, settings.max_categories)
    # One hypothesis on its own: nothing to correct for.
    return column_drift(raw, raw.p_value, settings)


def _metric_name(target: pd.Series[Any], pred: pd.Series[Any]) -> str:
    """Choose the metric from the reference side, so both sides are scored alike."""
    if pd.api.types.is_float_dtype(pred.dtype) and target.dropna().nunique() == 2:
        return "roc_auc"
    if _is_numeric(target) and pd.api.types.is_float_dtype(target.dtype):
        return "r2"
    return "accuracy"


def _score(metric: str, target: pd.Series[Any], pred: pd.Series[Any], positive: Any) -> float:
    y, p = target.to_numpy(), pred.to_numpy()
    if len(y) != len(p):
        raise DataError(f"target has {len(y)} rows but predictions have {len(p)}")
    if metric == "roc_auc":
        if not ((p >= 0) & (p <= 1)).all():
            raise DataError("binary predictions must be probabilities in [0, 1]")
        hits = y == positive
        # One class only: AUC is undefined, which is not a drop; NaN says so in the report.
        if hits.all() or not hits.any():
            return math.nan
        return float(roc_auc_score(hits, p))
    if metric == "r2":
        return float(r2_score(y, p))
    return float(accuracy_score(y, p))


def scored_performance_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    target: str,
    reference_pred: Any,
    current_pred: Any,
    settings: DriftSettings,
) -> PerformanceDrift:
    """Score both sides against ``target``: ROC AUC, R^2 or accuracy, chosen on the reference.

    Raises:
        DataError: the target is missing, lengths differ, or binary scores are not in [0, 1].
    """
    for frame, side in ((reference, "reference"), (current, "current")):
        if target not in frame.columns:
            raise DataError(f"target column {target!r} is missing from the {side} frame")
    ref_pred = _as_series(reference_pred, "reference_pred")
    cur_pred = _as_series(current_pred, "current_pred")
    metric = _metric_name(reference[target], ref_pred)
    labels = np.sort(np.asarray(pd.unique(reference[target].dropna())))
    positive = labels[-1] if labels.size else None
    ref_value = _score(metric, reference[target], ref_pred, positive)
    cur_value = _score(metric, current[target], cur_pred, positive)
    return performance_drift(metric, ref_value, cur_value, settings)


def performance_drift(
    name: str, ref_value: float, cur_value: float, s: DriftSettings
) -> PerformanceDrift:
    """Compare two values of a higher-is-better metric against the allowed drop."""
    drop = ref_value - cur_value  # NaN when either side is undefined: then never "drifted"
    return PerformanceDrift(
        name,
        ref_value,
        cur_value,
        drop,
        s.performance_drop_threshold,
        drop > s.performance_drop_threshold,
    )
