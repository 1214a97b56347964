"""Evaluation plots: a PNG for people and a CSV that `dvc plots` can render, per plot."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve

from mlship.config import Task
from mlship.files import write_atomic

_PNG_METADATA = {"Software": None}  # keep PNG bytes independent of the matplotlib build
# A curve on millions of held-out rows has up to one point per row; a few thousand points draw
# the same line, keep the CSV small for `dvc plots` and MLflow, and keep plotting time flat.
MAX_CURVE_POINTS = 2000


def _save(figure: Figure, path: Path) -> None:
    figure.tight_layout()
    write_atomic(
        path, lambda temp: figure.savefig(temp, format="png", dpi=80, metadata=_PNG_METADATA)
    )


def _save_data(frame: pd.DataFrame, path: Path) -> None:
    write_atomic(path, lambda temp: frame.to_csv(temp, index=False, float_format="%.6g"))


def thin_curve(data: pd.DataFrame, limit: int = MAX_CURVE_POINTS) -> pd.DataFrame:
    """Keep at most `limit` evenly spaced points of a curve, its first and last included."""
    if len(data) <= limit:
        return data
    keep = np.unique(np.linspace(0, len(data) - 1, limit).round().astype(int))
    return data.iloc[keep].reset_index(drop=True)


def _curve(out: Path, name: str, data: pd.DataFrame, x: str, y: str, title: str) -> None:
    data = thin_curve(data)
    _save_data(data, out / f"{name}.csv")
    figure = Figure(figsize=(4.5, 4))
    axes = figure.add_subplot()
    axes.plot(data[x], data[y])
    if name == "roc":
        axes.plot([0, 1], [0, 1], linestyle="--", color="grey")
    if name == "calibration":
        axes.plot([0, 1], [0, 1], linestyle="--", color="grey")
    axes.set(xlabel=x, ylabel=y, title=title)
    _save(figure, out / f"{name}.png")


def _confusion(out: Path, y_true: np.ndarray, predicted: np.ndarray, names: list[str]) -> None:
    labels = list(range(len(names)))
    _save_data(
        pd.DataFrame(
            {"actual": [names[i] for i in y_true], "predicted": [names[i] for i in predicted]}
        ),
        out / "confusion.csv",
    )
    matrix = skm.confusion_matrix(y_true, predicted, labels=labels)
    figure = Figure(figsize=(4.5, 4))
    axes = figure.add_subplot()
    skm.ConfusionMatrixDisplay(matrix, display_labels=names).plot(ax=axes, colorbar=False)
    axes.set_title("Confusion matrix")
    _save(figure, out / "confusion.png")


def importance_plot(out: Path, importance: pd.DataFrame) -> None:
    """Bar chart of permutation importances (columns: feature, importance)."""
    _save_data(importance, out / "importance.csv")
    shown = importance.head(20).iloc[::-1]
    figure = Figure(figsize=(5.5, 0.3 * len(shown) + 1.2))
    axes = figure.add_subplot()
    axes.barh(shown["feature"], shown["importance"])
    axes.set(xlabel="drop in score when shuffled", title="Feature importance")
    _save(figure, out / "importance.png")


def evaluation_plots(
    out: Path,
    task: Task,
    y_true: np.ndarray,
    scores: np.ndarray,
    class_names: list[str],
    threshold: float,
) -> None:
    """Write the task's plots (PNG + CSV) into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    if task == "binary":
        fpr, tpr, _ = skm.roc_curve(y_true, scores)
        _curve(out, "roc", pd.DataFrame({"fpr": fpr, "tpr": tpr}), "fpr", "tpr", "ROC")
        precision, recall, _ = skm.precision_recall_curve(y_true, scores)
        _curve(
            out,
            "pr",
            pd.DataFrame({"recall": recall, "precision": precision}),
            "recall",
            "precision",
            "Precision-recall",
        )
        observed, predicted = calibration_curve(y_true, scores, n_bins=10, strategy="quantile")
        _curve(
            out,
            "calibration",
            pd.DataFrame({"predicted": predicted, "observed": observed}),
            "predicted",
            "observed",
            "Calibration",
        )
        _confusion(out, y_true, (scores >= threshold).astype(int), ["negative", "positive"])
    elif task == "multiclass":
        _confusion(out, y_true, scores.argmax(axis=1), class_names)
    else:
        residuals = pd.DataFrame({"actual": y_true, "predicted": scores})
        residuals["residual"] = residuals["actual"] - residuals["predicted"]
        _save_data(residuals, out / "residuals.csv")
        figure = Figure(figsize=(4.5, 4))
        axes = figure.add_subplot()
        axes.scatter(residuals["predicted"], residuals["residual"], s=4, alpha=0.4)
        axes.axhline(0, color="grey", linestyle="--")
        axes.set(xlabel="predicted", ylabel="actual - predicted", title="Residuals")
        _save(figure, out / "residuals.png")
        figure = Figure(figsize=(4.5, 4))
        axes = figure.add_subplot()
        axes.scatter(residuals["actual"], residuals["predicted"], s=4, alpha=0.4)
        both = residuals[["actual", "predicted"]].to_numpy()
        low, high = float(both.min()), float(both.max())
        axes.plot([low, high], [low, high], color="grey", linestyle="--")
        axes.set(xlabel="actual", ylabel="predicted", title="Predicted vs actual")
        _save(figure, out / "predicted_vs_actual.png")
