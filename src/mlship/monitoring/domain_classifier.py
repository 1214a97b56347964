"""Joint drift: how well a classifier tells sampled current rows from reference rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.inspection import permutation_importance
from sklearn.metrics import roc_auc_score, roc_curve
from sklearn.model_selection import StratifiedKFold
from threadpoolctl import threadpool_limits

from mlship.config import DriftSettings
from mlship.monitoring.columns import numeric_values
from mlship.monitoring.results import DomainClassifierResult
from mlship.monitoring.statistics import FloatArray, IntArray, bootstrap_auc

# The held-out rows used for permutation importance: enough to rank features, cheap to predict.
IMPORTANCE_ROWS = 3_000
# The ROC curve kept for the report; more points add bytes, not information.
ROC_POINTS = 101


def _design_matrix(
    frame: pd.DataFrame,
    rows: IntArray,
    numeric: Sequence[str],
    categorical: Sequence[str],
    categories: Mapping[str, tuple[Any, ...]],
) -> FloatArray:
    sample = frame.iloc[rows]
    columns: list[FloatArray] = []
    for name in numeric:
        values = numeric_values(sample[name], name, "sample")
        columns.append(np.where(np.isfinite(values), values, np.nan))
    for name in categorical:
        known = categories[name]
        codes = pd.Index(known, dtype=object).get_indexer(sample[name].astype(object))
        values = codes.astype(np.float64)
        values[codes < 0] = len(known)  # pooled and unseen categories share one code
        values[sample[name].isna().to_numpy()] = np.nan
        columns.append(values)
    return np.column_stack(columns) if columns else np.empty((len(rows), 0))


def domain_classifier(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    numeric: Sequence[str],
    categorical: Sequence[str],
    categories: Mapping[str, tuple[Any, ...]],
    settings: DriftSettings,
) -> DomainClassifierResult:
    """Fit a classifier to tell sampled current rows from reference rows, on one OpenMP thread.

    ``categories`` are each categorical column's kept categories (the others share one code).
    """
    rng = np.random.default_rng(settings.seed)
    n_ref = min(len(reference), settings.domain_sample_rows)
    n_cur = min(len(current), settings.domain_sample_rows)
    ref_rows = np.sort(rng.choice(len(reference), size=n_ref, replace=False))
    cur_rows = np.sort(rng.choice(len(current), size=n_cur, replace=False))
    x = np.vstack(
        [
            _design_matrix(reference, ref_rows, numeric, categorical, categories),
            _design_matrix(current, cur_rows, numeric, categorical, categories),
        ]
    )
    y = np.concatenate([np.zeros(n_ref, dtype=np.int64), np.ones(n_cur, dtype=np.int64)])
    names = list(numeric) + list(categorical)
    is_categorical = np.array([False] * len(numeric) + [True] * len(categorical))

    # On a busy machine OpenMP's spinning workers slow a small fit several-fold; one thread
    # is fast enough for a 40k-row sample and leaves the other cores to the column tests.
    with threadpool_limits(limits=1, user_api="openmp"):
        oof = np.empty(y.size, dtype=np.float64)
        folds = StratifiedKFold(settings.domain_folds, shuffle=True, random_state=settings.seed)
        models: list[HistGradientBoostingClassifier] = []
        held_out = np.empty(0, dtype=np.int64)
        for train, test in folds.split(x, y):
            # Few, coarse trees: the question is "can they be told apart", not a tuned model.
            model = HistGradientBoostingClassifier(
                max_iter=30,
                learning_rate=0.2,
                max_bins=max(64, settings.max_categories + 1),
                categorical_features=is_categorical,
                early_stopping=False,
                random_state=settings.seed,
            )
            model.fit(x[train], y[train])
            oof[test] = model.predict_proba(x[test])[:, 1]
            models.append(model)
            held_out = test

        auc = float(roc_auc_score(y, oof))
        boot = bootstrap_auc(y, oof, settings.bootstrap, rng)
        ci_level = 1.0 - settings.alpha
        low, high = np.quantile(boot, [settings.alpha / 2, 1.0 - settings.alpha / 2])

        # Permutation importance on rows the last model never saw, so it ranks what generalises.
        importance_rows = held_out
        if held_out.size > IMPORTANCE_ROWS:
            importance_rows = np.sort(rng.choice(held_out, size=IMPORTANCE_ROWS, replace=False))
        perm = permutation_importance(
            models[-1],
            x[importance_rows],
            y[importance_rows],
            scoring="roc_auc",
            n_repeats=1,
            random_state=settings.seed,
        )
    means = np.asarray(perm.importances_mean, dtype=np.float64)
    ranked = sorted(zip(names, means.tolist()), key=lambda kv: (-kv[1], kv[0]))

    fpr, tpr, _ = roc_curve(y, oof)
    keep = np.unique(np.linspace(0, fpr.size - 1, min(fpr.size, ROC_POINTS)).round().astype(int))
    curve = tuple((float(fpr[i]), float(tpr[i])) for i in keep)
    return DomainClassifierResult(
        auc=auc,
        auc_low=float(low),
        auc_high=float(high),
        ci_level=ci_level,
        threshold=settings.domain_auc_threshold,
        drifted=bool(low > settings.domain_auc_threshold),
        importances=tuple((k, float(v)) for k, v in ranked),
        roc_curve=curve,
        n_ref=n_ref,
        n_cur=n_cur,
    )
