"""The vectorised bootstrap: metrics equal scikit-learn's, resamples are reproducible."""

from __future__ import annotations


import numpy as np
import pytest

from mlship.config import Task
from mlship.model.bootstrap import WEIGHTED, interval, paired_differences, resample_counts
from mlship.model.metrics import compute_metrics


def _case(task: Task, rows: int = 400) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    if task == "binary":
        y = (rng.random(rows) < 0.3).astype(np.float64)
        # Rounded scores: many ties, which AUC and average precision must handle as sklearn does.
        return y, np.round(np.clip(0.3 * y + 0.7 * rng.random(rows), 0, 1), 2)
    if task == "multiclass":
        return rng.integers(0, 3, rows).astype(np.float64), rng.dirichlet(np.ones(3), rows)
    y = rng.normal(size=rows)
    return y, y + rng.normal(scale=0.5, size=rows)


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_weighted_metrics_equal_scikit_learn_on_the_resampled_rows(task: Task) -> None:
    y, scores = _case(task)
    counts = np.random.default_rng(1).integers(0, 3, len(y))
    expected = compute_metrics(
        task,
        np.repeat(y, counts).astype(np.int64 if task != "regression" else np.float64),
        np.repeat(scores, counts, axis=0),
        0.5,
    )
    for name, metric in WEIGHTED[task].items():
        value = metric(counts[None, :].astype(np.float64), y, scores, 0.5)[0]
        assert value == pytest.approx(expected[name], rel=1e-9, abs=1e-12), name


def test_bootstrap_is_reproducible_for_a_seed_and_changes_with_it() -> None:
    y, scores = _case("binary")
    other = np.clip(scores + np.random.default_rng(9).normal(scale=0.2, size=len(y)), 0, 1)

    def run(seed: int) -> np.ndarray:
        return paired_differences("binary", ["roc_auc"], y, scores, other, (0.5, 0.5), 300, seed)[
            "roc_auc"
        ]

    assert np.array_equal(run(5), run(5))
    assert not np.array_equal(run(5), run(6))


def test_resample_blocks_cover_every_resample_with_every_row_drawn_n_times() -> None:
    blocks = list(resample_counts(rows=50, resamples=130, seed=0))
    counts = np.concatenate(blocks)
    assert counts.shape == (130, 50)
    assert np.all(counts.sum(axis=1) == 50)


def test_interval_ignores_undefined_resamples() -> None:
    low, high = interval(np.array([np.nan, 0.0, 1.0, 2.0, np.nan]), 0.5)
    assert 0.0 < low < high < 2.0
