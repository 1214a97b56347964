"""Any tabular CSV works by editing params only: scikit-learn's bundled real datasets, end to end.

Each case writes a dataset to CSV, points `data` at it (no schema file), and runs validate,
split, train and evaluate through the stage `run` functions.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn import datasets

from mlship.config import TASK_METRICS

from conftest import make_project, project_params, run_pipeline


def breast_cancer() -> tuple[pd.DataFrame, dict[str, Any]]:
    bunch = datasets.load_breast_cancer(as_frame=True)
    features = [str(name) for name in bunch.feature_names]
    return bunch.frame, {"task": "binary", "target": "target", "numeric": features}


def iris_with_names() -> tuple[pd.DataFrame, dict[str, Any]]:
    bunch = datasets.load_iris(as_frame=True)
    frame = bunch.frame.assign(species=np.asarray(bunch.target_names)[bunch.target])
    frame = frame.drop(columns="target")
    features = [str(name) for name in bunch.feature_names]
    return frame, {"task": "multiclass", "target": "species", "numeric": features}


def diabetes() -> tuple[pd.DataFrame, dict[str, Any]]:
    bunch = datasets.load_diabetes(as_frame=True)
    features = [str(name) for name in bunch.feature_names]
    return bunch.frame, {"task": "regression", "target": "target", "numeric": features}


def diagnosis_with_categories() -> tuple[pd.DataFrame, dict[str, Any]]:
    """Breast cancer with a text category, a numeric-coded category, text labels and ids."""
    frame = datasets.load_breast_cancer(as_frame=True).frame
    out = pd.DataFrame(
        {
            "patient": [f"P{i:04d}" for i in range(len(frame))],
            "texture": frame["mean texture"],
            "smoothness": frame["mean smoothness"],
            "size": pd.cut(
                frame["worst area"], [0, 500, 1000, np.inf], labels=["small", "medium", "large"]
            ).astype(str),
            "clinic": (np.arange(len(frame)) % 4 + 1),  # a code read as a number
            "diagnosis": np.where(frame["target"] == 0, "malignant", "benign"),
        }
    )
    return out, {
        "task": "binary",
        "target": "diagnosis",
        "id_column": "patient",
        "positive_label": "malignant",
        "numeric": ["texture", "smoothness"],
        "categorical": ["size", "clinic"],
    }


@pytest.fixture()
def project(tmp_path: Path) -> Iterator[Path]:
    cwd = Path.cwd()
    os.chdir(tmp_path)
    try:
        yield tmp_path
    finally:
        os.chdir(cwd)


def run_on(
    root: Path,
    dataset: tuple[pd.DataFrame, dict[str, Any]],
    model: str,
    hyperparams: dict[str, Any],
    stratify: bool = True,
) -> dict[str, float]:
    frame, data = dataset
    frame.to_csv(root / "table.csv", index=False)
    raw = project_params(
        {
            "data": {
                "path": "table.csv",
                "id_column": None,
                "positive_label": None,
                "categorical": [],
                **data,
            },
            "validate": {"schema_file": None, "min_rows": 100, "min_class_fraction": 0.05},
            "split": {"stratify": stratify},
            "train": {"model": model, "hyperparams": hyperparams},
            "evaluate": {"importance_repeats": 1},
            # The example's gate and key metrics are binary ones: a params error for other tasks.
            "gate": {"metrics": {TASK_METRICS[data["task"]][0]: {}}},
            "registry": {"key_metrics": []},
        }
    )
    raw["kpi"] = {}  # the example's KPIs are binary ones too (an override would merge into them)
    metrics = run_pipeline(make_project(root, raw), with_data=False)
    assert json.loads((root / "metrics.json").read_text()) == {
        key: round(value, 6) for key, value in metrics.items()
    }
    return metrics


def test_binary_breast_cancer_with_linear_model(project: Path) -> None:
    metrics = run_on(project, breast_cancer(), "linear", {})
    assert metrics["roc_auc"] > 0.95
    assert metrics["accuracy"] > 0.9
    assert (project / "plots" / "roc.png").exists()


def test_multiclass_iris_with_string_labels_and_random_forest(project: Path) -> None:
    metrics = run_on(project, iris_with_names(), "random_forest", {"n_estimators": 50})
    assert set(metrics) == {"accuracy", "macro_f1", "log_loss"}
    assert metrics["accuracy"] > 0.8
    meta = json.loads((project / "artifacts/model/model.json").read_text())
    assert meta["classes"] == ["setosa", "versicolor", "virginica"]
    predictions = pd.read_csv(project / "artifacts/eval/predictions.csv")
    assert [c for c in predictions if c.startswith("proba_")] == ["proba_0", "proba_1", "proba_2"]


def test_regression_diabetes_with_gradient_boosting_ignores_stratify(project: Path) -> None:
    metrics = run_on(project, diabetes(), "hist_gradient_boosting", {"max_iter": 50}, stratify=True)
    assert set(metrics) == {"rmse", "mae", "r2"}
    assert metrics["r2"] > 0.2
    assert (project / "plots" / "residuals.png").exists()


def test_regression_diabetes_with_linear_model(project: Path) -> None:
    metrics = run_on(project, diabetes(), "linear", {"alpha": 0.1})
    assert metrics["r2"] > 0.3


def test_categories_text_labels_and_id_column_with_gradient_boosting(project: Path) -> None:
    metrics = run_on(project, diagnosis_with_categories(), "hist_gradient_boosting", {})
    assert metrics["roc_auc"] > 0.9
    meta = json.loads((project / "artifacts/model/model.json").read_text())
    assert meta["classes"][meta["positive_index"]] == "malignant"
    assert meta["input_example"][0]["clinic"] in {"1", "2", "3", "4"}  # a code became a category
    predictions = pd.read_csv(project / "artifacts/eval/predictions.csv")
    assert predictions["id"].str.startswith("P").all()
    # y_true is 1 for the positive label: malignant is about 37 % of this dataset
    assert 0.25 < predictions["y_true"].mean() < 0.5
