"""Metrics per task, computed from labels and scores so the gate can resample them."""

from __future__ import annotations

import numpy as np
from sklearn import metrics as skm

from mlship.config import Task

# Whether a larger value is better; the gate and reports read directions from here.
HIGHER_IS_BETTER = {
    "roc_auc": True,
    "pr_auc": True,
    "f1": True,
    "precision": True,
    "recall": True,
    "accuracy": True,
    "log_loss": False,
    "brier": False,
    "macro_f1": True,
    "rmse": False,
    "mae": False,
    "r2": True,
}


def binary_metrics(y_true: np.ndarray, score: np.ndarray, threshold: float) -> dict[str, float]:
    """Metrics of a binary classifier from 0/1 labels and positive-class probabilities."""
    predicted = (score >= threshold).astype(int)
    both_classes = len(np.unique(y_true)) == 2
    return {
        "roc_auc": float(skm.roc_auc_score(y_true, score)) if both_classes else float("nan"),
        "pr_auc": float(skm.average_precision_score(y_true, score)),
        "f1": float(skm.f1_score(y_true, predicted, zero_division=0)),
        "precision": float(skm.precision_score(y_true, predicted, zero_division=0)),
        "recall": float(skm.recall_score(y_true, predicted, zero_division=0)),
        "accuracy": float(skm.accuracy_score(y_true, predicted)),
        "log_loss": float(skm.log_loss(y_true, np.clip(score, 1e-15, 1 - 1e-15), labels=[0, 1])),
        "brier": float(skm.brier_score_loss(y_true, score)),
    }


def multiclass_metrics(y_true: np.ndarray, proba: np.ndarray) -> dict[str, float]:
    """Metrics of a multiclass classifier from class indices and a probability matrix."""
    predicted = proba.argmax(axis=1)
    return {
        "macro_f1": float(skm.f1_score(y_true, predicted, average="macro", zero_division=0)),
        "accuracy": float(skm.accuracy_score(y_true, predicted)),
        "log_loss": float(
            skm.log_loss(y_true, np.clip(proba, 1e-15, 1.0), labels=np.arange(proba.shape[1]))
        ),
    }


def regression_metrics(y_true: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """Metrics of a regressor."""
    return {
        "rmse": float(np.sqrt(skm.mean_squared_error(y_true, predicted))),
        "mae": float(skm.mean_absolute_error(y_true, predicted)),
        "r2": float(skm.r2_score(y_true, predicted)),
    }


def compute_metrics(
    task: Task, y_true: np.ndarray, scores: np.ndarray, threshold: float = 0.5
) -> dict[str, float]:
    """Dispatch on task. `scores` is P(positive), a probability matrix, or predictions."""
    if task == "binary":
        return binary_metrics(y_true, scores, threshold)
    if task == "multiclass":
        return multiclass_metrics(y_true, scores)
    return regression_metrics(y_true, scores)
