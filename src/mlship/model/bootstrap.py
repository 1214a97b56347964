"""Bootstrap of metrics (paired differences for the gate, one sample for live performance),
vectorised over resamples.

A resample is a vector of row counts (how often each held-out row was drawn), so every metric
is a weighted metric and a block of resamples is one matrix: no Python loop over rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import numpy.typing as npt

from mlship.config import Task

FloatArray = npt.NDArray[np.float64]
Weighted = Callable[[FloatArray, FloatArray, FloatArray, float], FloatArray]

# Cells (resamples x rows) per block: bounds memory at a few hundred MB whatever the row count.
BLOCK_CELLS = 2_000_000
_EPS = 1e-15


def resample_counts(rows: int, resamples: int, seed: int) -> Iterator[FloatArray]:
    """Yield blocks of bootstrap count vectors (block x rows), reproducible from `seed`."""
    rng = np.random.default_rng(seed)
    block = max(1, min(resamples, BLOCK_CELLS // max(rows, 1)))
    done = 0
    while done < resamples:
        size = min(block, resamples - done)
        drawn = rng.integers(0, rows, size=(size, rows))
        flat = (drawn + np.arange(size)[:, None] * rows).ravel()
        yield np.bincount(flat, minlength=size * rows).reshape(size, rows).astype(np.float64)
        done += size


def _ratio(numerator: FloatArray, denominator: FloatArray) -> FloatArray:
    safe = np.where(denominator > 0, denominator, 1.0)
    return np.where(denominator > 0, numerator / safe, 0.0)


def _groups(sorted_scores: FloatArray) -> npt.NDArray[np.int64]:
    """Index of the tie group of each sorted score."""
    return np.concatenate([[0], np.cumsum(np.diff(sorted_scores) != 0)]).astype(np.int64)


def roc_auc(weights: FloatArray, y: FloatArray, score: FloatArray, _: float) -> FloatArray:
    """Weighted ROC AUC per resample (ties count one half), NaN when a class is absent."""
    order = np.argsort(score, kind="mergesort")
    group = _groups(score[order])
    w = weights[:, order]
    positive = w * y[order]
    negative = w - positive
    cumulative = np.cumsum(negative, axis=1)
    ends = np.flatnonzero(np.r_[np.diff(group) != 0, True])
    at_end = cumulative[:, ends]
    below = np.concatenate([np.zeros((len(w), 1)), at_end[:, :-1]], axis=1)
    tied = at_end - below
    credit = below[:, group] + 0.5 * tied[:, group]
    pairs = positive.sum(axis=1) * negative.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(pairs > 0, (positive * credit).sum(axis=1) / pairs, np.nan)


def average_precision(
    weights: FloatArray, y: FloatArray, score: FloatArray, _: float
) -> FloatArray:
    """Weighted average precision (area under the precision-recall steps), as scikit-learn."""
    order = np.argsort(-score, kind="mergesort")
    group = _groups(-score[order])
    w = weights[:, order]
    ends = np.flatnonzero(np.r_[np.diff(group) != 0, True])
    true_pos = np.cumsum(w * y[order], axis=1)[:, ends]
    predicted = np.cumsum(w, axis=1)[:, ends]
    total = true_pos[:, -1:]
    precisions = _ratio(true_pos, predicted)
    recalls = _ratio(true_pos, np.broadcast_to(total, true_pos.shape))
    steps = np.diff(np.concatenate([np.zeros((len(w), 1)), recalls], axis=1), axis=1)
    return np.where(total[:, 0] > 0, (steps * precisions).sum(axis=1), np.nan)


def _confusion(
    weights: FloatArray, y: FloatArray, score: FloatArray, threshold: float
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    predicted = (score >= threshold).astype(np.float64)
    true_pos = weights @ (y * predicted)
    false_pos = weights @ ((1 - y) * predicted)
    false_neg = weights @ (y * (1 - predicted))
    return true_pos, false_pos, false_neg, weights.sum(axis=1)


def f1(weights: FloatArray, y: FloatArray, score: FloatArray, threshold: float) -> FloatArray:
    """Weighted F1 of the positive class at `threshold`."""
    tp, fp, fn, _ = _confusion(weights, y, score, threshold)
    return _ratio(2 * tp, 2 * tp + fp + fn)


def precision(
    weights: FloatArray, y: FloatArray, score: FloatArray, threshold: float
) -> FloatArray:
    """Weighted precision at `threshold`."""
    tp, fp, _, _ = _confusion(weights, y, score, threshold)
    return _ratio(tp, tp + fp)


def recall(weights: FloatArray, y: FloatArray, score: FloatArray, threshold: float) -> FloatArray:
    """Weighted recall at `threshold`."""
    tp, _, fn, _ = _confusion(weights, y, score, threshold)
    return _ratio(tp, tp + fn)


def accuracy(weights: FloatArray, y: FloatArray, score: FloatArray, threshold: float) -> FloatArray:
    """Weighted accuracy at `threshold`."""
    tp, fp, _, total = _confusion(weights, y, score, threshold)
    true_neg = total - tp - fp - (weights @ y - tp)
    return _ratio(tp + true_neg, total)


def _mean(weights: FloatArray, per_row: FloatArray) -> FloatArray:
    return _ratio(weights @ per_row, weights.sum(axis=1))


def log_loss(weights: FloatArray, y: FloatArray, score: FloatArray, _: float) -> FloatArray:
    """Weighted binary log loss."""
    p = np.clip(score, _EPS, 1 - _EPS)
    return _mean(weights, -(y * np.log(p) + (1 - y) * np.log(1 - p)))


def brier(weights: FloatArray, y: FloatArray, score: FloatArray, _: float) -> FloatArray:
    """Weighted Brier score."""
    return _mean(weights, (score - y) ** 2)


def multiclass_accuracy(
    weights: FloatArray, y: FloatArray, proba: FloatArray, _: float
) -> FloatArray:
    """Weighted accuracy of the arg-max class."""
    return _mean(weights, (proba.argmax(axis=1) == y).astype(np.float64))


def multiclass_log_loss(
    weights: FloatArray, y: FloatArray, proba: FloatArray, _: float
) -> FloatArray:
    """Weighted multiclass log loss (rows renormalised, as scikit-learn does)."""
    clipped = np.clip(proba, _EPS, 1.0)
    clipped = clipped / clipped.sum(axis=1, keepdims=True)
    return _mean(weights, -np.log(clipped[np.arange(len(y)), y.astype(np.int64)]))


def macro_f1(weights: FloatArray, y: FloatArray, proba: FloatArray, _: float) -> FloatArray:
    """Weighted macro F1 over the classes present in the resample's truth or predictions."""
    predicted = proba.argmax(axis=1)
    total = np.zeros(len(weights))
    present = np.zeros(len(weights))
    for label in range(proba.shape[1]):
        actual, guessed = y == label, predicted == label
        tp = weights @ (actual & guessed).astype(np.float64)
        fp = weights @ (~actual & guessed).astype(np.float64)
        fn = weights @ (actual & ~guessed).astype(np.float64)
        denominator = 2 * tp + fp + fn
        total += _ratio(2 * tp, denominator)
        present += denominator > 0
    return np.where(present > 0, _ratio(total, present), np.nan)


def rmse(weights: FloatArray, y: FloatArray, predicted: FloatArray, _: float) -> FloatArray:
    """Weighted root mean squared error."""
    return np.sqrt(_mean(weights, (y - predicted) ** 2))


def mae(weights: FloatArray, y: FloatArray, predicted: FloatArray, _: float) -> FloatArray:
    """Weighted mean absolute error."""
    return _mean(weights, np.abs(y - predicted))


def r2(weights: FloatArray, y: FloatArray, predicted: FloatArray, _: float) -> FloatArray:
    """Weighted coefficient of determination."""
    count = weights.sum(axis=1)
    residual = weights @ ((y - predicted) ** 2)
    total = weights @ (y**2) - _ratio((weights @ y) ** 2, count)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, 1 - residual / np.where(total > 0, total, 1.0), np.nan)


WEIGHTED: dict[Task, dict[str, Weighted]] = {
    "binary": {
        "roc_auc": roc_auc,
        "pr_auc": average_precision,
        "f1": f1,
        "precision": precision,
        "recall": recall,
        "accuracy": accuracy,
        "log_loss": log_loss,
        "brier": brier,
    },
    "multiclass": {
        "macro_f1": macro_f1,
        "accuracy": multiclass_accuracy,
        "log_loss": multiclass_log_loss,
    },
    "regression": {"rmse": rmse, "mae": mae, "r2": r2},
}


def paired_differences(
    task: Task,
    metrics: list[str],
    y: FloatArray,
    baseline: FloatArray,
    candidate: FloatArray,
    thresholds: tuple[float, float],
    resamples: int,
    seed: int,
) -> dict[str, FloatArray]:
    """Candidate minus baseline for each metric on each resample of the same rows.

    Both models see the same resampled rows (the pairing), so the shared noise of the rows
    cancels and the spread is the uncertainty of the difference itself.
    """
    functions = WEIGHTED[task]
    y = np.asarray(y, dtype=np.float64)
    out: dict[str, list[FloatArray]] = {name: [] for name in metrics}
    for weights in resample_counts(len(y), resamples, seed):
        for name in metrics:
            metric = functions[name]
            out[name].append(
                metric(weights, y, candidate, thresholds[1])
                - metric(weights, y, baseline, thresholds[0])
            )
    return {name: np.concatenate(parts) for name, parts in out.items()}


def estimate(
    statistic: Callable[[FloatArray], FloatArray],
    rows: int,
    resamples: int,
    seed: int,
    confidence: float,
) -> tuple[float, float, float]:
    """(point, low, high) of a weighted statistic: all rows once, then its percentile interval.

    `statistic` maps a block of count vectors (block x rows) to one value per vector, as the
    WEIGHTED metrics do once their rows are bound.
    """
    point = float(statistic(np.ones((1, rows)))[0])
    draws = np.concatenate([statistic(w) for w in resample_counts(rows, resamples, seed)])
    low, high = interval(draws, confidence)
    return point, low, high


def interval(differences: FloatArray, confidence: float) -> tuple[float, float]:
    """Percentile interval of the differences, ignoring resamples where a metric is undefined."""
    finite = differences[np.isfinite(differences)]
    if finite.size == 0:
        return float("nan"), float("nan")
    tail = (1 - confidence) / 2
    low, high = np.quantile(finite, [tail, 1 - tail])
    return float(low), float(high)
