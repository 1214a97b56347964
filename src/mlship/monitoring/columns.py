"""Per-column drift: KS + PSI for numbers, chi-square + PSI for categories, then the verdict."""

from __future__ import annotations

import zlib
from dataclasses import fields
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from mlship.config import DriftSettings
from mlship.errors import DataError
from mlship.monitoring.results import ColumnDrift, ColumnMeasures, ColumnStats
from mlship.monitoring.statistics import FloatArray, ks_sorted, psi, quantile_shares

NEW_CATEGORIES_LISTED = 20


def numeric_values(series: pd.Series[Any], name: str, side: str) -> FloatArray:
    """Return a numeric or boolean column as floats (missing as NaN).

    Raises:
        DataError: the column has another dtype.
    """
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


def numeric_stats(
    name: str, ref_s: pd.Series[Any], cur_s: pd.Series[Any], settings: DriftSettings
) -> ColumnStats:
    """KS and PSI of one numeric column, on at most ``ks_sample_rows`` finite values a side."""
    ref_all = numeric_values(ref_s, name, "reference")
    cur_all = numeric_values(cur_s, name, "current")
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
        d, p = ks_sorted(ref, cur)
        psi_value = psi(*quantile_shares(ref, cur, settings.psi_bins))
    return ColumnStats(
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


def categorical_stats(
    name: str, ref_s: pd.Series[Any], cur_s: pd.Series[Any], max_categories: int
) -> ColumnStats:
    """Chi-square test of homogeneity, TVD and PSI of one categorical column; new categories."""
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
    return ColumnStats(
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


def _verdict(raw: ColumnStats, p_adjusted: float, settings: DriftSettings) -> tuple[bool, str]:
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


def column_drift(raw: ColumnStats, p_adjusted: float, settings: DriftSettings) -> ColumnDrift:
    """Return the column's result and verdict, given its adjusted p-value."""
    drifted, reason = _verdict(raw, p_adjusted, settings)
    measured = {item.name: getattr(raw, item.name) for item in fields(ColumnMeasures)}
    return ColumnDrift(
        **measured,
        test="ks" if raw.kind == "numeric" else "chi2",
        p_adjusted=p_adjusted,
        drifted=drifted,
        reason=reason,
    )
