"""Detect data, prediction and performance drift between a reference frame and a current one.

This module runs the checks (columns in threads beside the domain classifier) and combines them;
the statistics, per-column tests, classifier and performance checks live in their own modules.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pandas as pd

from mlship.config import DriftSettings
from mlship.errors import DataError
from mlship.monitoring.columns import (
    categorical_stats,
    column_drift,
    numeric_stats,
    numeric_values,
)
from mlship.monitoring.domain_classifier import domain_classifier
from mlship.monitoring.performance import (
    performance_drift,
    prediction_drift,
    scored_performance_drift,
)
from mlship.monitoring.results import ColumnStats, DomainClassifierResult, DriftResult
from mlship.monitoring.statistics import adjust_pvalues


def _check_inputs(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    numeric: Sequence[str],
    categorical: Sequence[str],
) -> None:
    overlap = sorted(set(numeric) & set(categorical))
    if overlap:
        raise DataError(f"columns listed as both numeric and categorical: {', '.join(overlap)}")
    wanted = list(numeric) + list(categorical)
    if not wanted:
        raise DataError("no columns to check: numeric and categorical are both empty")
    duplicated = sorted({c for c in wanted if wanted.count(c) > 1})
    if duplicated:
        raise DataError(f"columns listed twice: {', '.join(duplicated)}")
    for frame, side in ((reference, "reference"), (current, "current")):
        absent = [c for c in wanted if c not in frame.columns]
        if absent:
            raise DataError(f"{side} frame lacks column(s): {', '.join(map(repr, absent))}")
        if len(frame) == 0:
            raise DataError(f"{side} frame is empty (columns {', '.join(map(repr, wanted))})")
        for name in numeric:
            # Checked up front so a bad column fails before any work starts in the threads.
            numeric_values(frame[name].iloc[:0], name, side)


def detect_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    numeric: Sequence[str],
    categorical: Sequence[str],
    settings: DriftSettings,
    *,
    target: str | None = None,
    reference_pred: Any = None,
    current_pred: Any = None,
    reference_metric: float | None = None,
    current_metric: float | None = None,
    metric_name: str = "metric",
) -> DriftResult:
    """Compare ``current`` with ``reference`` column by column, jointly, and on predictions.

    Decision rule, per column (missing values and non-finite numbers excluded from the tests):

    * numeric: two-sample KS test, plus PSI on ``psi_bins`` quantile bins of the reference,
      both on at most ``ks_sample_rows`` non-missing values per side, drawn the same way on
      every run (with the effect floor below, a larger sample changes no decision);
      categorical: chi-square test of homogeneity on the 2xK table of counts (categories
      beyond ``max_categories`` pooled), plus PSI on the category shares.
    * p-values of all columns are adjusted together (``correction``).
    * A column drifts when its adjusted p-value is below ``alpha`` *and* the shift is large
      enough to matter: KS D (numeric) or total variation distance (categorical) at least
      ``min_effect``, or PSI at least ``psi_threshold``. The effect floor is there because on
      a million rows a test flags shifts nobody would act on.
    * It also drifts when its missing rate moves by more than ``missing_rate_threshold``
      (absolute), or when categories unseen in the reference make up more than
      ``new_category_share`` of the current non-missing values.

    The domain classifier (when ``settings.domain_classifier``) learns to tell sampled current
    rows from reference rows; data drifted jointly when the lower bound of the bootstrap
    ``1 - alpha`` interval of its out-of-fold ROC AUC exceeds ``domain_auc_threshold``.

    Predictions, when both ``reference_pred`` and ``current_pred`` are given, are tested like a
    column: KS + PSI for float scores, chi-square + PSI for labels. Performance is compared
    when ``reference_metric`` and ``current_metric`` are given (higher is better; reported
    as ``metric_name``), or else
    when ``target`` is given with both predictions: ROC AUC for probabilities of a binary
    target, R^2 for a float target, accuracy otherwise. It drifts when it drops by more than
    ``performance_drop_threshold``.

    The result is drifted when any column, the domain classifier, the predictions or the
    performance drifted.

    Raises:
        DataError: a listed column is absent or has the wrong type, or a frame is empty.
    """
    _check_inputs(reference, current, numeric, categorical)
    cat_raws = [
        categorical_stats(c, reference[c], current[c], settings.max_categories) for c in categorical
    ]
    notes: list[str] = []
    run_domain = settings.domain_classifier
    if run_domain and min(len(reference), len(current)) < 5 * settings.domain_folds:
        run_domain = False
        notes.append("domain classifier skipped: too few rows for its folds")

    def numeric_column(name: str) -> ColumnStats:
        return numeric_stats(name, reference[name], current[name], settings)

    # Sorting and searching release the GIL, so the numeric columns and the domain classifier
    # share the cores through threads without copying the frames into other processes.
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        domain_future: Future[DomainClassifierResult] | None = None
        if run_domain:
            categories = {r.name: r.categories for r in cat_raws}
            domain_future = pool.submit(
                domain_classifier,
                reference,
                current,
                numeric,
                categorical,
                categories,
                settings,
            )
        num_raws = list(pool.map(numeric_column, numeric))
        domain = None if domain_future is None else domain_future.result()

    raws = num_raws + cat_raws
    sampled = [r.name for r in num_raws if r.sampled]
    if sampled:
        notes.append(
            f"KS and PSI ran on {settings.ks_sample_rows} sampled non-missing rows per side"
            f" (ks_sample_rows) for: {', '.join(sampled)}"
        )
    adjusted = adjust_pvalues([r.p_value for r in raws], settings.correction)
    columns = tuple(column_drift(r, float(p), settings) for r, p in zip(raws, adjusted))

    prediction = None
    if reference_pred is not None and current_pred is not None:
        prediction = prediction_drift(reference_pred, current_pred, settings)

    performance = None
    if reference_metric is not None and current_metric is not None:
        performance = performance_drift(metric_name, reference_metric, current_metric, settings)
    elif target is not None and reference_pred is not None and current_pred is not None:
        performance = scored_performance_drift(
            reference, current, target, reference_pred, current_pred, settings
        )

    ranked = sorted((c for c in columns if c.drifted), key=lambda c: (-c.severity, c.name))
    drifted = (
        bool(ranked)
        or (domain is not None and domain.drifted)
        or (prediction is not None and prediction.drifted)
        or (performance is not None and performance.drifted)
    )
    return DriftResult(
        columns=columns,
        domain=domain,
        prediction=prediction,
        performance=performance,
        drifted=drifted,
        drifted_features=tuple(c.name for c in ranked),
        n_reference=len(reference),
        n_current=len(current),
        settings=settings,
        notes=tuple(notes),
    )
