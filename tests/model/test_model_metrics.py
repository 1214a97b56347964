"""Metrics per task give the known values on tiny arrays, and every metric has a direction."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mlship.model.metrics import HIGHER_IS_BETTER, compute_metrics

Y = np.array([0, 0, 1, 1])
SCORE = np.array([0.1, 0.6, 0.4, 0.9])


def test_binary_metrics_known_values() -> None:
    metrics = compute_metrics("binary", Y, SCORE, threshold=0.5)
    assert metrics["roc_auc"] == pytest.approx(0.75)
    assert metrics["accuracy"] == pytest.approx(0.5)  # predicted 0,1,0,1
    assert metrics["precision"] == pytest.approx(0.5)
    assert metrics["recall"] == pytest.approx(0.5)
    assert metrics["f1"] == pytest.approx(0.5)
    assert metrics["brier"] == pytest.approx((0.01 + 0.36 + 0.36 + 0.01) / 4)
    expected_loss = -np.mean(np.log([0.9, 0.4, 0.4, 0.9]))
    assert metrics["log_loss"] == pytest.approx(expected_loss)
    assert metrics["pr_auc"] == pytest.approx((1.0 + 2 / 3) / 2)


def test_threshold_moves_the_label_metrics_only() -> None:
    low = compute_metrics("binary", Y, SCORE, threshold=0.3)
    high = compute_metrics("binary", Y, SCORE, threshold=0.5)
    assert low["recall"] == 1.0 and high["recall"] == 0.5
    assert low["roc_auc"] == high["roc_auc"]


def test_perfect_binary_scores() -> None:
    metrics = compute_metrics("binary", Y, np.array([0.0, 0.0, 1.0, 1.0]))
    assert metrics["roc_auc"] == 1.0
    assert metrics["accuracy"] == 1.0
    assert metrics["log_loss"] < 1e-10


def test_single_class_holdout_gives_nan_auc_not_a_crash() -> None:
    metrics = compute_metrics("binary", np.array([1, 1, 1]), np.array([0.2, 0.7, 0.9]))
    assert math.isnan(metrics["roc_auc"])
    assert metrics["accuracy"] == pytest.approx(2 / 3)


def test_multiclass_metrics_known_values() -> None:
    y_true = np.array([0, 1, 2, 2])
    proba = np.array(
        [[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.1, 0.2, 0.7], [0.5, 0.3, 0.2]]
    )  # last row is wrong
    metrics = compute_metrics("multiclass", y_true, proba)
    assert metrics["accuracy"] == pytest.approx(0.75)
    # per-class F1: class 0 = 2/3, class 1 = 1, class 2 = 2/3
    assert metrics["macro_f1"] == pytest.approx((2 / 3 + 1 + 2 / 3) / 3)
    assert metrics["log_loss"] == pytest.approx(-np.mean(np.log([0.8, 0.7, 0.7, 0.2])))


def test_regression_metrics_known_values() -> None:
    y_true = np.array([1.0, 2.0, 3.0, 4.0])
    predicted = np.array([1.0, 2.0, 3.0, 6.0])
    metrics = compute_metrics("regression", y_true, predicted)
    assert metrics["mae"] == pytest.approx(0.5)
    assert metrics["rmse"] == pytest.approx(1.0)
    assert metrics["r2"] == pytest.approx(1 - 4 / 5)


@pytest.mark.parametrize(
    ("task", "y_true", "scores"),
    [
        ("binary", Y, SCORE),
        ("multiclass", np.array([0, 1]), np.array([[0.6, 0.4], [0.3, 0.7]])),
        ("regression", np.array([1.0, 2.0]), np.array([1.5, 2.5])),
    ],
)
def test_every_metric_has_a_direction(task: str, y_true: np.ndarray, scores: np.ndarray) -> None:
    metrics = compute_metrics(task, y_true, scores)  # type: ignore[arg-type]
    assert set(metrics) <= set(HIGHER_IS_BETTER)
    assert all(isinstance(value, float) for value in metrics.values())


def test_directions_are_what_people_expect() -> None:
    assert HIGHER_IS_BETTER["roc_auc"] and HIGHER_IS_BETTER["r2"]
    assert not HIGHER_IS_BETTER["log_loss"] and not HIGHER_IS_BETTER["rmse"]
