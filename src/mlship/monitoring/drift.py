"""Detect data, prediction and performance drift between a reference frame and a current one."""

from __future__ import annotations

import math
import os
import zlib
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.inspection import permutation_importance
from sklearn.metrics import accuracy_score, r2_score, roc_auc_score, roc_curve
from sklearn.model_selection import StratifiedKFold
from threadpoolctl import threadpool_limits

from mlship.config import DriftSettings
from mlship.errors import DataError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# Shares are clipped to this floor before taking logs, so an empty bin costs a bounded PSI.
PSI_EPSILON = 1e-4
# Below this many rows per side scipy's exact KS distribution is affordable and more accurate.
KS_EXACT_MAX_ROWS = 10_000
# The held-out rows used for permutation importance: enough to rank features, cheap to predict.
IMPORTANCE_ROWS = 3_000
# The ROC curve kept for the report; more points add bytes, not information.
ROC_POINTS = 101
NEW_CATEGORIES_LISTED = 20


@dataclass(frozen=True)
class ColumnDrift:  # pylint: disable=too-many-instance-attributes  # one flat JSON record
    """Drift statistics and verdict for one column (or for the model's predictions)."""

    name: str
    kind: Literal["numeric", "categorical"]
    test: Literal["ks", "chi2"]
    statistic: float
    p_value: float
    p_adjusted: float
    effect: float
    psi: float
    missing_ref: float
    missing_cur: float
    new_categories: tuple[tuple[str, float], ...]
    new_category_share: float
    drifted: bool
    reason: str
    n_ref: int
    n_cur: int

    @property
    def severity(self) -> float:
        """Return the largest share of mass that moved: KS D / total variation, missing, new."""
        return max(self.effect, abs(self.missing_cur - self.missing_ref), self.new_category_share)


@dataclass(frozen=True)
class DomainClassifierResult:
    """How well a classifier tells current rows from reference rows, and which features help."""

    auc: float
    auc_low: float
    auc_high: float
    ci_level: float
    threshold: float
    drifted: bool
    importances: tuple[tuple[str, float], ...]
    roc_curve: tuple[tuple[float, float], ...]
    n_ref: int
    n_cur: int


@dataclass(frozen=True)
class PerformanceDrift:
    """The model's metric on reference and current data; higher is better."""

    metric: str
    reference: float
    current: float
    drop: float
    threshold: float
    drifted: bool


@dataclass(frozen=True)
class DriftResult:
    """Everything a drift check found; ``columns`` keep the order they were asked in."""

    columns: tuple[ColumnDrift, ...]
    domain: DomainClassifierResult | None
    prediction: ColumnDrift | None
    performance: PerformanceDrift | None
    drifted: bool
    drifted_features: tuple[str, ...]
    n_reference: int
    n_current: int
    settings: DriftSettings
    notes: tuple[str, ...] = field(default=())

    def column(self, name: str) -> ColumnDrift:
        """Return the result for one column."""
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)

    def ranked_columns(self) -> list[ColumnDrift]:
        """Return drifted columns first, each group by decreasing severity then name."""
        return sorted(self.columns, key=lambda c: (not c.drifted, -c.severity, c.name))

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict (NaN becomes None)."""
        return {
            "drifted": self.drifted,
            "drifted_features": list(self.drifted_features),
            "n_reference": self.n_reference,
            "n_current": self.n_current,
            "columns": [_json_safe(_column_dict(c)) for c in self.columns],
            "domain_classifier": None if self.domain is None else _json_safe(vars(self.domain)),
            "prediction": (
                None if self.prediction is None else _json_safe(_column_dict(self.prediction))
            ),
            "performance": None if self.performance is None else _json_safe(vars(self.performance)),
            "settings": self.settings.model_dump(),
            "notes": list(self.notes),
        }


def _column_dict(col: ColumnDrift) -> dict[str, Any]:
    out = dict(vars(col))
    out["new_categories"] = [{"category": k, "share": v} for k, v in col.new_categories]
    out["severity"] = col.severity
    return out


def _json_safe(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


# --------------------------------------------------------------------------- statistics


def adjust_pvalues(p_values: Sequence[float] | FloatArray, method: str) -> FloatArray:
    """Return p-values adjusted for multiple testing by Holm, Bonferroni or Benjamini-Hochberg."""
    p = np.asarray(p_values, dtype=np.float64)
    m = p.size
    if m == 0:
        return p.copy()
    if method == "bonferroni":
        return np.minimum(p * m, 1.0)
    if method == "fdr_bh":
        return np.asarray(stats.false_discovery_control(p, method="bh"), dtype=np.float64)
    if method == "holm":
        order = np.argsort(p, kind="stable")
        stepped = np.maximum.accumulate((m - np.arange(m)) * p[order])
        adjusted = np.empty(m, dtype=np.float64)
        adjusted[order] = np.minimum(stepped, 1.0)
        return adjusted
    raise ValueError(f"unknown correction {method!r}")


def psi(ref_shares: FloatArray, cur_shares: FloatArray) -> float:
    """Return the population stability index of two share vectors over the same bins."""
    r = np.clip(ref_shares, PSI_EPSILON, None)
    c = np.clip(cur_shares, PSI_EPSILON, None)
    return float(np.sum((c - r) * np.log(c / r)))


def _ks_sorted(ref: FloatArray, cur: FloatArray) -> tuple[float, float]:
    """Return the two-sided KS statistic and p-value of two sorted non-empty samples."""
    n1, n2 = ref.size, cur.size
    if max(n1, n2) <= KS_EXACT_MAX_ROWS:
        res = stats.ks_2samp(ref, cur)
        return float(res.statistic), float(res.pvalue)
    # ks_2samp re-sorts and concatenates; on sorted data the ECDF gap is only needed at each
    # sample's own points, where its own ECDF is a rank, which saves most of the work.
    gap_at_ref = _own_ecdf(ref) - np.searchsorted(cur, ref, side="right") / n2
    gap_at_cur = np.searchsorted(ref, cur, side="right") / n1 - _own_ecdf(cur)
    d = float(max(np.abs(gap_at_ref).max(), np.abs(gap_at_cur).max()))
    # The same asymptotic distribution scipy's ks_2samp uses beyond its exact range.
    en = round(n1 * n2 / (n1 + n2))
    p = float(np.clip(stats.kstwo.sf(d, en), 0.0, 1.0))
    return d, p


def _own_ecdf(values: FloatArray) -> FloatArray:
    """Return the ECDF of a sorted sample at its own points (ties share their last rank)."""
    if values.size < 2 or bool((values[1:] != values[:-1]).all()):
        return np.arange(1, values.size + 1) / values.size
    return np.searchsorted(values, values, side="right") / values.size


def _quantile_shares(ref: FloatArray, cur: FloatArray, bins: int) -> tuple[FloatArray, FloatArray]:
    """Return bin shares of two sorted samples over the reference's quantile bins."""
    positions = np.linspace(0.0, 1.0, bins + 1)[1:-1]
    edges = np.unique(ref[np.minimum((positions * ref.size).astype(np.int64), ref.size - 1)])
    # On sorted data the bin counts come from a search per edge, not a pass over every row.
    ref_cum = np.searchsorted(ref, edges, side="left")
    cur_cum = np.searchsorted(cur, edges, side="left")
    ref_counts = np.diff(np.concatenate(([0], ref_cum, [ref.size])))
    cur_counts = np.diff(np.concatenate(([0], cur_cum, [cur.size])))
    return ref_counts / ref.size, cur_counts / cur.size


@dataclass(frozen=True)
class _Raw:  # pylint: disable=too-many-instance-attributes  # mirrors ColumnDrift
    """Per-column statistics before multiple-testing correction."""

    name: str
    kind: Literal["numeric", "categorical"]
    statistic: float
    p_value: float
    effect: float
    psi: float
    missing_ref: float
    missing_cur: float
    new_categories: tuple[tuple[str, float], ...]
    new_category_share: float
    n_ref: int
    n_cur: int
    categories: tuple[Any, ...] = ()
    sampled: bool = False


def _numeric_values(series: pd.Series[Any], name: str, side: str) -> FloatArray:
    if pd.api.types.is_bool_dtype(series.dtype) or pd.api.types.is_numeric_dtype(series.dtype):
        return series.to_numpy(dtype=np.float64, na_value=np.nan)
    raise DataError(f"numeric column {name!r} has non-numeric dtype {series.dtype} in {side}")


def _finite(values: FloatArray) -> FloatArray:
    finite = np.isfinite(values)
    return values if finite.all() else values[finite]


def _subsample(values: FloatArray, limit: int | None, seed: int, key: str) -> FloatArray:
    """Return at most ``limit`` values drawn without replacement, the same draw every run."""
    if limit is None or values.size <= limit:
        return values
    # Seeded by column and side, so one column's sample does not depend on the others.
    rng = np.random.default_rng([seed, zlib.crc32(key.encode("utf-8"))])
    return values[rng.choice(values.size, size=limit, replace=False)]


def _numeric_raw(
    name: str, ref_s: pd.Series[Any], cur_s: pd.Series[Any], settings: DriftSettings
) -> _Raw:
    ref_all = _numeric_values(ref_s, name, "reference")
    cur_all = _numeric_values(cur_s, name, "current")
    # Infinities are treated as missing: they have no place in a CDF or a quantile bin.
    ref_finite, cur_finite = _finite(ref_all), _finite(cur_all)
    limit = settings.ks_sample_rows
    ref = np.sort(_subsample(ref_finite, limit, settings.seed, f"reference:{name}"))
    cur = np.sort(_subsample(cur_finite, limit, settings.seed, f"current:{name}"))
    missing_ref = 1.0 - ref_finite.size / ref_all.size
    missing_cur = 1.0 - cur_finite.size / cur_all.size
    if ref.size == 0 or cur.size == 0:
        d, p, psi_value = 0.0, 1.0, 0.0
    else:
        d, p = _ks_sorted(ref, cur)
        psi_value = psi(*_quantile_shares(ref, cur, settings.psi_bins))
    return _Raw(
        name,
        "numeric",
        d,
        p,
        d,
        psi_value,
        missing_ref,
        missing_cur,
        (),
        0.0,
        ref_finite.size,
        cur_finite.size,
        sampled=ref.size < ref_finite.size or cur.size < cur_finite.size,
    )


def _counts(series: pd.Series[Any]) -> pd.Series[Any]:
    counts = series.value_counts(dropna=True, sort=False)
    counts = counts[counts.to_numpy() > 0]
    return pd.Series(counts.to_numpy(dtype=np.int64), index=counts.index.astype(object))


def _categorical_raw(
    name: str, ref_s: pd.Series[Any], cur_s: pd.Series[Any], max_categories: int
) -> _Raw:
    ref_counts, cur_counts = _counts(ref_s), _counts(cur_s)
    n_ref, n_cur = int(ref_counts.sum()), int(cur_counts.sum())
    missing_ref = 1.0 - n_ref / len(ref_s)
    missing_cur = 1.0 - n_cur / len(cur_s)
    # Aligning by hand avoids pandas sorting a union of labels that may not be comparable.
    seen = set(ref_counts.index)
    labels = list(ref_counts.index) + [v for v in cur_counts.index if v not in seen]
    ref_vec = ref_counts.reindex(labels, fill_value=0).to_numpy(dtype=np.int64)
    cur_vec = cur_counts.reindex(labels, fill_value=0).to_numpy(dtype=np.int64)

    new_mask = ref_vec == 0
    new_share_each = cur_vec[new_mask] / max(n_cur, 1)
    new_labels = np.asarray(labels, dtype=object)[new_mask]
    order = np.argsort(-new_share_each, kind="stable")[:NEW_CATEGORIES_LISTED]
    new_categories = tuple((str(new_labels[i]), float(new_share_each[i])) for i in order)
    new_share = float(new_share_each.sum())

    # Rare categories are pooled so the table stays small and expected counts stay sensible.
    order_all = np.argsort(-(ref_vec + cur_vec), kind="stable")
    kept = order_all[: max_categories - 1] if len(labels) > max_categories else order_all
    pooled = np.setdiff1d(order_all, kept, assume_unique=True)
    table = np.vstack([ref_vec[kept], cur_vec[kept]])
    if pooled.size:
        table = np.hstack([table, [[ref_vec[pooled].sum()], [cur_vec[pooled].sum()]]])
    categories = tuple(labels[i] for i in kept)

    if n_ref == 0 or n_cur == 0 or table.shape[1] < 2:
        stat, p, tvd, psi_value = 0.0, 1.0, 0.0, 0.0
    else:
        # A test of homogeneity: both rows are samples, neither is taken as the true mix.
        res = stats.chi2_contingency(table, correction=False)
        stat, p = float(res.statistic), float(res.pvalue)
        ref_share, cur_share = table[0] / n_ref, table[1] / n_cur
        tvd = float(0.5 * np.abs(ref_share - cur_share).sum())
        psi_value = psi(ref_share, cur_share)
    return _Raw(
        name,
        "categorical",
        stat,
        p,
        tvd,
        psi_value,
        missing_ref,
        missing_cur,
        new_categories,
        new_share,
        n_ref,
        n_cur,
        categories,
    )


def _verdict(raw: _Raw, p_adjusted: float, settings: DriftSettings) -> tuple[bool, str]:
    reasons: list[str] = []
    if p_adjusted < settings.alpha and (
        raw.effect >= settings.min_effect or raw.psi >= settings.psi_threshold
    ):
        label = "KS D" if raw.kind == "numeric" else "TVD"
        reasons.append(
            f"distribution ({label}={raw.effect:.3f}, p_adj={p_adjusted:.2g}, PSI={raw.psi:.3f})"
        )
    if abs(raw.missing_cur - raw.missing_ref) > settings.missing_rate_threshold:
        reasons.append(f"missing rate {raw.missing_ref:.1%} -> {raw.missing_cur:.1%}")
    if raw.new_category_share > settings.new_category_share:
        listed = ", ".join(f"{k!r} ({v:.1%})" for k, v in raw.new_categories[:3])
        reasons.append(f"new categories {raw.new_category_share:.1%}: {listed}")
    return bool(reasons), "; ".join(reasons)


def _finish(raw: _Raw, p_adjusted: float, settings: DriftSettings) -> ColumnDrift:
    drifted, reason = _verdict(raw, p_adjusted, settings)
    return ColumnDrift(
        name=raw.name,
        kind=raw.kind,
        test="ks" if raw.kind == "numeric" else "chi2",
        statistic=raw.statistic,
        p_value=raw.p_value,
        p_adjusted=p_adjusted,
        effect=raw.effect,
        psi=raw.psi,
        missing_ref=raw.missing_ref,
        missing_cur=raw.missing_cur,
        new_categories=raw.new_categories,
        new_category_share=raw.new_category_share,
        drifted=drifted,
        reason=reason,
        n_ref=raw.n_ref,
        n_cur=raw.n_cur,
    )


# --------------------------------------------------------------------------- domain classifier


def _bootstrap_auc(
    y: IntArray, scores: FloatArray, n_boot: int, rng: np.random.Generator
) -> FloatArray:
    """Return ``n_boot`` stratified bootstrap ROC AUCs, without a Python loop over rows."""
    # Stratified, as pROC does by default: each replicate keeps the class sizes, so every
    # replicate has an AUC and the interval reflects the scores, not the class balance.
    _, level = np.unique(scores, return_inverse=True)
    pos_level, neg_level = level[y == 1], level[y == 0]
    n_pos, n_neg, n_levels = pos_level.size, neg_level.size, int(level.max()) + 1
    aucs = np.empty(n_boot, dtype=np.float64)
    chunk = max(1, 2_000_000 // max(n_levels, n_pos, n_neg))  # bounds each block to ~16 MB
    for start in range(0, n_boot, chunk):
        b = min(chunk, n_boot - start)
        offsets = (np.arange(b) * n_levels)[:, None]
        neg_draws = neg_level[rng.integers(0, n_neg, size=(b, n_neg))] + offsets
        neg_counts = np.bincount(neg_draws.ravel(), minlength=b * n_levels).reshape(b, n_levels)
        # For a positive at a level: negatives strictly below, plus half of those tied with it.
        credit = (np.cumsum(neg_counts, axis=1) - 0.5 * neg_counts).ravel()
        pos_draws = pos_level[rng.integers(0, n_pos, size=(b, n_pos))] + offsets
        aucs[start : start + b] = credit[pos_draws].sum(axis=1) / (n_pos * n_neg)
    return aucs


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
        values = _numeric_values(sample[name], name, "sample")
        columns.append(np.where(np.isfinite(values), values, np.nan))
    for name in categorical:
        known = categories[name]
        codes = pd.Index(known, dtype=object).get_indexer(sample[name].astype(object))
        values = codes.astype(np.float64)
        values[codes < 0] = len(known)  # pooled and unseen categories share one code
        values[sample[name].isna().to_numpy()] = np.nan
        columns.append(values)
    return np.column_stack(columns) if columns else np.empty((len(rows), 0))


def _domain_classifier(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    numeric: Sequence[str],
    categorical: Sequence[str],
    categories: Mapping[str, tuple[Any, ...]],
    settings: DriftSettings,
) -> DomainClassifierResult:
    """Fit a classifier to tell sampled current rows from reference rows, on one OpenMP thread."""
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
        boot = _bootstrap_auc(y, oof, settings.bootstrap, rng)
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


# --------------------------------------------------------------------------- predictions


def _as_series(values: Any, name: str) -> pd.Series[Any]:
    series = values if isinstance(values, pd.Series) else pd.Series(np.asarray(values))
    if series.empty:
        raise DataError(f"{name} is empty")
    return series.reset_index(drop=True)


def _is_numeric(series: pd.Series[Any]) -> bool:
    return bool(
        pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype)
    )


def _prediction_drift(
    reference_pred: Any, current_pred: Any, settings: DriftSettings
) -> ColumnDrift:
    ref = _as_series(reference_pred, "reference_pred")
    cur = _as_series(current_pred, "current_pred")
    if _is_numeric(ref) and _is_numeric(cur) and pd.api.types.is_float_dtype(ref.dtype):
        raw = _numeric_raw("prediction", ref, cur, settings)
    else:
        raw = _categorical_raw("prediction", ref, cur, settings.max_categories)
    # One hypothesis on its own: nothing to correct for.
    return _finish(raw, raw.p_value, settings)


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


def _performance_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    target: str,
    reference_pred: Any,
    current_pred: Any,
    settings: DriftSettings,
) -> PerformanceDrift:
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
    return _performance(metric, ref_value, cur_value, settings)


def _performance(
    name: str, ref_value: float, cur_value: float, s: DriftSettings
) -> PerformanceDrift:
    drop = ref_value - cur_value  # NaN when either side is undefined: then never "drifted"
    return PerformanceDrift(
        name,
        ref_value,
        cur_value,
        drop,
        s.performance_drop_threshold,
        drop > s.performance_drop_threshold,
    )


# --------------------------------------------------------------------------- entry point


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
            _numeric_values(frame[name].iloc[:0], name, side)


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
        _categorical_raw(c, reference[c], current[c], settings.max_categories) for c in categorical
    ]
    notes: list[str] = []
    run_domain = settings.domain_classifier
    if run_domain and min(len(reference), len(current)) < 5 * settings.domain_folds:
        run_domain = False
        notes.append("domain classifier skipped: too few rows for its folds")

    def numeric_raw(name: str) -> _Raw:
        return _numeric_raw(name, reference[name], current[name], settings)

    # Sorting and searching release the GIL, so the numeric columns and the domain classifier
    # share the cores through threads without copying the frames into other processes.
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        domain_future: Future[DomainClassifierResult] | None = None
        if run_domain:
            categories = {r.name: r.categories for r in cat_raws}
            domain_future = pool.submit(
                _domain_classifier,
                reference,
                current,
                numeric,
                categorical,
                categories,
                settings,
            )
        num_raws = list(pool.map(numeric_raw, numeric))
        domain = None if domain_future is None else domain_future.result()

    raws = num_raws + cat_raws
    sampled = [r.name for r in num_raws if r.sampled]
    if sampled:
        notes.append(
            f"KS and PSI ran on {settings.ks_sample_rows} sampled non-missing rows per side"
            f" (ks_sample_rows) for: {', '.join(sampled)}"
        )
    adjusted = adjust_pvalues([r.p_value for r in raws], settings.correction)
    columns = tuple(_finish(r, float(p), settings) for r, p in zip(raws, adjusted))

    prediction = None
    if reference_pred is not None and current_pred is not None:
        prediction = _prediction_drift(reference_pred, current_pred, settings)

    performance = None
    if reference_metric is not None and current_metric is not None:
        performance = _performance(metric_name, reference_metric, current_metric, settings)
    elif target is not None and reference_pred is not None and current_pred is not None:
        performance = _performance_drift(
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
