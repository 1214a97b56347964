"""Pure two-sample statistics: KS on sorted samples, quantile-bin shares, PSI, p-value
adjustment and a bootstrap of ROC AUC. Arrays in, numbers out; no frames, no settings."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from scipy import stats

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# Shares are clipped to this floor before taking logs, so an empty bin costs a bounded PSI.
PSI_EPSILON = 1e-4
# Below this many rows per side scipy's exact KS distribution is affordable and more accurate.
KS_EXACT_MAX_ROWS = 10_000


def psi(
    ref_shares: npt.ArrayLike, cur_shares: npt.ArrayLike, epsilon: float = PSI_EPSILON
) -> float:
    """Return the population stability index of two share vectors over the same bins.

    Each share is clipped to ``epsilon`` first, so a bin empty on one side adds a large but
    finite term. Binning is the caller's: PSI only compares the shares it is given.

    Raises:
        ValueError: the two vectors do not have the same number of bins.
    """
    r = np.clip(np.asarray(ref_shares, dtype=np.float64), epsilon, None)
    c = np.clip(np.asarray(cur_shares, dtype=np.float64), epsilon, None)
    if r.shape != c.shape:
        raise ValueError(f"PSI needs shares over the same bins, got {r.size} and {c.size}")
    return float(np.sum((c - r) * np.log(c / r)))


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


def ks_sorted(ref: FloatArray, cur: FloatArray) -> tuple[float, float]:
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


def quantile_shares(ref: FloatArray, cur: FloatArray, bins: int) -> tuple[FloatArray, FloatArray]:
    """Return bin shares of two sorted samples over the reference's quantile bins."""
    positions = np.linspace(0.0, 1.0, bins + 1)[1:-1]
    edges = np.unique(ref[np.minimum((positions * ref.size).astype(np.int64), ref.size - 1)])
    # On sorted data the bin counts come from a search per edge, not a pass over every row.
    ref_cum = np.searchsorted(ref, edges, side="left")
    cur_cum = np.searchsorted(cur, edges, side="left")
    ref_counts = np.diff(np.concatenate(([0], ref_cum, [ref.size])))
    cur_counts = np.diff(np.concatenate(([0], cur_cum, [cur.size])))
    return ref_counts / ref.size, cur_counts / cur.size


def bootstrap_auc(
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
