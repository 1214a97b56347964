"""Live performance: the task's metrics and the KPIs on labelled predictions, with intervals.

Pure functions on the rows `mlship.monitoring.labels.join_labels` returns (one per labelled
prediction: request_id, ts, label_ts, delay_s, role, version, predicted, prediction, label,
[probabilities], features). Each figure is a weighted statistic of the rows, so one bootstrap
(mlship.model.bootstrap) gives its interval, as the gate's does.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mlship.config import LIVE_METRICS, KpiSpec, MonitorParams, Task
from mlship.model.bootstrap import WEIGHTED, FloatArray, estimate
from mlship.model.metrics import HIGHER_IS_BETTER

ALL_DELAYS = "all"


@dataclass(frozen=True)
class ModelTarget:
    """What the served model's labels are: its task, classes and decision threshold."""

    task: Task
    classes: tuple[Any, ...] = ()  # model.json's classes (empty for regression)
    positive_index: int = 1  # binary: index of the positive class in `classes`
    threshold: float = 0.5  # binary: P(positive) at or above which a row is flagged


@dataclass(frozen=True)
class Estimate:
    """One figure on labelled rows: the value on all of them, its interval, and their count."""

    name: str
    value: float
    low: float
    high: float
    n: int


@dataclass(frozen=True)
class Slice:
    """The figures of one model version and role, over one label-delay bucket (or all)."""

    version: str
    role: str
    delay: str
    n: int
    metrics: tuple[Estimate, ...]
    kpis: tuple[Estimate, ...]

    def metric(self, name: str) -> Estimate | None:
        """The named metric, when computed."""
        return next((m for m in self.metrics if m.name == name), None)


@dataclass(frozen=True)
class LivePerformance:
    """Every slice, and the labels that could not be used (counted, never fatal)."""

    slices: tuple[Slice, ...]
    invalid_labels: int  # labels that cannot be cast to the model's target type
    unknown: int = 0
    expired: int = 0
    duplicates: int = 0

    def overall(self, role: str) -> list[Slice]:
        """The all-delays slices of `role`, one per version."""
        return [s for s in self.slices if s.role == role and s.delay == ALL_DELAYS]


def _class_index(label: Any, target: ModelTarget) -> int | None:
    """The index of `label` among the classes once cast to their type; None when it cannot be."""
    kind = type(target.classes[0])
    if label is None or isinstance(label, bool) != (kind is bool):
        return None  # JSON true is not the class 1, nor "False" the class False
    try:
        if kind is int and isinstance(label, (float, str)):
            number = float(label)
            cast: Any = int(number) if number.is_integer() else None
        else:
            cast = kind(label)
    except (TypeError, ValueError, OverflowError):
        return None
    return target.classes.index(cast) if cast in target.classes else None


def cast_labels(labels: pd.Series[Any], target: ModelTarget) -> FloatArray:
    """Labels as numbers the metrics take (class index, or the value); NaN where a label
    cannot be cast to the model's target type."""
    if target.task == "regression":
        values = [
            math.nan if isinstance(v, bool) else pd.to_numeric(v, errors="coerce") for v in labels
        ]
        out = np.asarray(values, dtype=np.float64)
        return np.where(np.isfinite(out), out, np.nan)
    indices = [_class_index(v, target) for v in labels]
    return np.asarray([math.nan if i is None else i for i in indices], dtype=np.float64)


def windowed(rows: pd.DataFrame, params: MonitorParams, now: float) -> pd.DataFrame:
    """Per version and role, the newest `window_rows` rows predicted in the last `window_hours`."""
    if params.window_hours is not None:
        rows = rows[rows["ts"] >= now - params.window_hours * 3600]
    rows = rows.sort_values("ts", kind="mergesort")
    if params.window_rows is not None:
        rows = rows.groupby(["version", "role"], sort=False).tail(params.window_rows)
    return rows


def delay_labels(delay_s: pd.Series[Any], edges_hours: tuple[float, ...]) -> list[str]:
    """The label-arrival delay bucket of each row: `<1h`, `1h-24h`, ..., `>=168h`."""
    names = [f"<{edges_hours[0]:g}h"]
    names += [f"{a:g}h-{b:g}h" for a, b in zip(edges_hours, edges_hours[1:])]
    names.append(f">={edges_hours[-1]:g}h")
    positions = np.searchsorted(np.asarray(edges_hours) * 3600, delay_s.to_numpy(), side="right")
    return [names[int(i)] for i in positions]


def _probabilities(rows: pd.DataFrame, target: ModelTarget) -> FloatArray | None:
    """Class probabilities in model.json's class order, when every row recorded them."""
    if "probabilities" not in rows.columns:
        return None
    names = [str(c) for c in target.classes]
    table = []
    for value in rows["probabilities"]:
        if not isinstance(value, Mapping):
            return None
        table.append([float(value.get(name, math.nan)) for name in names])
    proba = np.asarray(table, dtype=np.float64).reshape(len(rows), len(names))
    return None if np.isnan(proba).any() else proba


def _scores(rows: pd.DataFrame, target: ModelTarget) -> tuple[FloatArray, bool]:
    """What the metrics score: P(positive), class probabilities (or the one-hot answer), or
    the predicted value; and whether probabilities were recorded."""
    if target.task == "binary":
        return rows["prediction"].to_numpy(dtype=np.float64), True
    if target.task == "regression":
        return rows["predicted"].to_numpy(dtype=np.float64), True
    proba = _probabilities(rows, target)
    if proba is not None:
        return proba, True
    answered = cast_labels(rows["predicted"], target)
    one_hot = np.zeros((len(rows), len(target.classes)))
    known = np.isfinite(answered)
    one_hot[np.flatnonzero(known), answered[known].astype(np.int64)] = 1.0
    return one_hot, False


def kpi_amounts(spec: KpiSpec, y: FloatArray, score: FloatArray, target: ModelTarget) -> FloatArray:
    """What each labelled row is worth under the KPI (binary: y is 1 for the positive class)."""
    flagged = (score >= target.threshold).astype(np.float64)
    false_pos = flagged * (1 - y)
    if spec.kind == "cost_matrix":
        return spec.false_positive * false_pos + spec.false_negative * (1 - flagged) * y
    return spec.true_positive * flagged * y - spec.false_positive * false_pos


def _mean_of(amounts: FloatArray) -> Callable[[FloatArray], FloatArray]:
    def statistic(weights: FloatArray) -> FloatArray:
        return np.asarray((weights @ amounts) / weights.sum(axis=1), dtype=np.float64)

    return statistic


def _metric_of(
    name: str, task: Task, y: FloatArray, score: FloatArray, threshold: float
) -> Callable[[FloatArray], FloatArray]:
    function = WEIGHTED[task][name]

    def statistic(weights: FloatArray) -> FloatArray:
        return function(weights, y, score, threshold)

    return statistic


def slice_figures(
    rows: pd.DataFrame,
    target: ModelTarget,
    params: MonitorParams,
    kpis: Mapping[str, KpiSpec],
) -> tuple[tuple[Estimate, ...], tuple[Estimate, ...], int]:
    """(metrics, KPIs, labelled rows used) on rows whose labels are already cast (`y`)."""
    y = rows["y"].to_numpy(dtype=np.float64)
    score, has_probabilities = _scores(rows, target)
    n = len(y)
    names = params.metrics or LIVE_METRICS[target.task]
    if target.task == "binary":
        y = (y == target.positive_index).astype(np.float64)
    elif target.task == "multiclass" and not has_probabilities:
        names = tuple(name for name in names if name != "log_loss")

    def bootstrap(name: str, statistic: Callable[[FloatArray], FloatArray]) -> Estimate:
        point, low, high = estimate(statistic, n, params.resamples, params.seed, params.confidence)
        return Estimate(name, point, low, high, n)

    metrics = tuple(
        bootstrap(name, _metric_of(name, target.task, y, score, target.threshold)) for name in names
    )
    figures = tuple(
        bootstrap(name, _mean_of(kpi_amounts(spec, y, score, target)))
        for name, spec in kpis.items()
    )
    return metrics, figures, n


def live_performance(
    rows: pd.DataFrame,
    target: ModelTarget,
    params: MonitorParams,
    kpis: Mapping[str, KpiSpec],
    now: float,
) -> LivePerformance:
    """Metrics and KPIs per version and role over the window, overall and by label delay."""
    y = cast_labels(rows["label"], target) if len(rows) else np.zeros(0)
    invalid = int(np.isnan(y).sum())
    usable = windowed(rows.assign(y=y)[~np.isnan(y)], params, now)
    slices: list[Slice] = []
    if usable.empty:
        return LivePerformance((), invalid)
    usable = usable.assign(delay=delay_labels(usable["delay_s"], params.delay_buckets_hours))
    for (version, role), group in usable.groupby(["version", "role"], sort=True):
        parts = [(ALL_DELAYS, group)] + list(group.groupby("delay", sort=False))
        for delay, part in parts:
            metrics, figures, n = slice_figures(part, target, params, kpis)
            slices.append(Slice(str(version), str(role), str(delay), n, metrics, figures))
    return LivePerformance(tuple(slices), invalid)


def worse_beyond(estimate_: Estimate, reference: float, margin: float, higher: bool) -> bool:
    """Whether the whole interval lies on the bad side of `reference` by more than `margin`."""
    if higher:
        return estimate_.high < reference - margin
    return estimate_.low > reference + margin


def concept_drift_reasons(
    performance: LivePerformance,
    training: Mapping[str, float],
    params: MonitorParams,
    kpis: Mapping[str, KpiSpec],
) -> list[str]:
    """Why the champion's live figures call for a retrain (empty: they do not).

    A metric counts when its whole bootstrap interval is worse than the training figure by
    more than `performance_margin`; a KPI when its interval lies beyond its alert threshold.
    Slices with fewer than `min_labelled_rows` labelled rows never count.
    """
    reasons: list[str] = []
    for part in performance.overall("champion"):
        if part.n < params.min_labelled_rows:
            continue
        where = f"on {part.n} labelled rows of version {part.version}"
        for metric in part.metrics:
            reference = training.get(metric.name)
            higher = HIGHER_IS_BETTER[metric.name]
            if reference is None or not worse_beyond(
                metric, reference, params.performance_margin, higher
            ):
                continue
            reasons.append(
                f"live {metric.name} {metric.value:.4f} [{metric.low:.4f}, {metric.high:.4f}] "
                f"{where} is worse than the training {reference:.4f} by more than "
                f"{params.performance_margin:g}"
            )
        for figure in part.kpis:
            spec = kpis[figure.name]
            if spec.alert_threshold is None or not worse_beyond(
                figure, spec.alert_threshold, 0.0, spec.direction == "higher_is_better"
            ):
                continue
            reasons.append(
                f"KPI {figure.name} {figure.value:.4f} [{figure.low:.4f}, {figure.high:.4f}] "
                f"{where} crosses its alert threshold {spec.alert_threshold:g}"
            )
    return reasons


@dataclass(frozen=True)
class LiveCheck:
    """One monitor run's live performance, the training figures beside it, and its verdict."""

    performance: LivePerformance
    training: Mapping[str, float]
    reasons: list[str]

    def labelled_rows(self) -> int:
        """Labelled rows behind the champion's figures (its largest version)."""
        return max((part.n for part in self.performance.overall("champion")), default=0)
