"""Targets encode the same way for every task and label type; predictions round-trip via CSV."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import Pipeline

from mlship.config import DataParams, Task, TrainParams
from mlship.data.io import read_table, write_table
from mlship.errors import DataError
from mlship.model.pipeline import make_pipeline
from mlship.model.scoring import (
    Labels,
    encode_target,
    predict_scores,
    predictions_frame,
    rows_hash,
    scores_from_frame,
)


def data(task: str, positive: str | int | None = None) -> DataParams:
    return DataParams(
        path=Path("d.csv"),
        task=task,  # type: ignore[arg-type]
        target="y",
        numeric=("x",),
        categorical=("c",),
        positive_label=positive,
    )


def fit(params: DataParams, y: list[object]) -> tuple[Pipeline, pd.DataFrame]:
    rows = len(y)
    features = pd.DataFrame({"x": np.linspace(0, 1, rows), "c": ["a", "b"] * (rows // 2)})
    pipeline = make_pipeline(params, TrainParams(model="linear"))
    return pipeline.fit(features, pd.Series(y)), features


def test_binary_positive_defaults_to_the_last_class() -> None:
    pipeline, _ = fit(data("binary"), [0, 1] * 4)
    labels = Labels.from_model(pipeline, data("binary"))
    assert labels.classes == [0, 1] and labels.positive_index == 1
    assert isinstance(labels.classes[0], int)  # plain Python, so model.json can hold it


def test_string_labels_with_positive_label_encode_positive_as_one() -> None:
    params = data("binary", positive="churn")
    pipeline, features = fit(params, ["churn", "stay"] * 4)
    labels = Labels.from_model(pipeline, params)
    assert labels.classes == ["churn", "stay"]
    assert labels.positive_index == 0  # not the last class: positive_label decides
    y = pd.Series(["stay", "churn", "churn"])
    assert encode_target(y, labels, "binary").tolist() == [0, 1, 1]
    scores = predict_scores(pipeline, features, labels, "binary")
    np.testing.assert_allclose(scores, pipeline.predict_proba(features)[:, 0])


def test_positive_label_written_as_number_matches_text_classes() -> None:
    params = data("binary", positive=1)
    pipeline, _ = fit(params, ["0", "1"] * 4)
    assert Labels.from_model(pipeline, params).positive_index == 1


def test_positive_label_that_is_not_a_class_is_named() -> None:
    params = data("binary", positive="yes")
    pipeline, _ = fit(params, ["a", "b"] * 4)
    with pytest.raises(DataError, match="positive_label 'yes' is not a target class"):
        Labels.from_model(pipeline, params)


def test_binary_with_three_classes_is_refused() -> None:
    pipeline, _ = fit(data("multiclass"), ["a", "b", "c"] * 4)
    with pytest.raises(DataError, match="exactly 2 target classes"):
        Labels.from_model(pipeline, data("binary"))


def test_multiclass_string_labels_encode_to_class_indices() -> None:
    params = data("multiclass")
    pipeline, features = fit(params, ["setosa", "versicolor", "virginica"] * 4)
    labels = Labels.from_model(pipeline, params)
    assert labels.positive_index is None
    y = pd.Series(["virginica", "setosa"])
    assert encode_target(y, labels, "multiclass").tolist() == [2, 0]
    proba = predict_scores(pipeline, features, labels, "multiclass")
    assert proba.shape == (12, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


def test_unseen_target_class_is_named() -> None:
    params = data("multiclass")
    pipeline, _ = fit(params, ["a", "b", "c"] * 4)
    labels = Labels.from_model(pipeline, params)
    with pytest.raises(DataError, match=r"never saw: \['z'\]"):
        encode_target(pd.Series(["a", "z"]), labels, "multiclass")


def test_regression_encodes_as_float_and_predicts_values() -> None:
    params = data("regression")
    pipeline, features = fit(params, [1.0, 2.0, 3.0, 4.0] * 2)
    labels = Labels.from_model(pipeline, params)
    assert labels == Labels([], None)
    assert encode_target(pd.Series([1, 2]), labels, "regression").dtype == np.float64
    assert predict_scores(pipeline, features, labels, "regression").shape == (8,)


@pytest.mark.parametrize(
    ("task", "y_true", "scores"),
    [
        ("binary", np.array([0, 1, 1]), np.array([0.25, 0.5, 0.875])),
        ("multiclass", np.array([2, 0, 1]), np.eye(3)[[2, 0, 1]] * 0.5 + 0.5 / 3),
        ("regression", np.array([1.5, -2.0, 3.25]), np.array([1.0, -1.0, 3.0])),
    ],
)
def test_predictions_round_trip_through_csv(
    task: str, y_true: np.ndarray, scores: np.ndarray, tmp_path: Path
) -> None:
    kind: Task = task  # type: ignore[assignment]
    frame = predictions_frame(pd.Series(["a", "b", "c"]), y_true, scores, kind)
    assert frame["id"].tolist() == ["a", "b", "c"]
    write_table(frame, tmp_path / "predictions.csv")
    back_true, back_scores = scores_from_frame(read_table(tmp_path / "predictions.csv"), kind)
    np.testing.assert_array_equal(back_true, y_true)
    np.testing.assert_allclose(back_scores, scores)


def test_multiclass_columns_are_ordered_by_class_index_beyond_nine() -> None:
    proba = np.tile(np.arange(11, dtype=float), (2, 1))
    frame = predictions_frame(pd.Series([1, 2]), np.array([0, 10]), proba, "multiclass")
    shuffled = frame[["id", "y_true", *sorted(c for c in frame if c.startswith("proba_"))]]
    _, back = scores_from_frame(shuffled, "multiclass")
    np.testing.assert_array_equal(back, proba)


def test_rows_hash_identifies_rows_and_their_order() -> None:
    frame = pd.DataFrame({"id": ["a", "b"], "y": [0, 1]})
    same = rows_hash(frame, ["id", "y"])
    assert same == rows_hash(frame.copy(), ["id", "y"])
    assert same != rows_hash(frame.iloc[::-1], ["id", "y"])
    assert same != rows_hash(frame.assign(y=[1, 1]), ["id", "y"])


def test_positive_label_matches_classes_read_as_floats() -> None:
    params = data("binary", positive=1)
    pipeline, _ = fit(params, [0.0, 1.0] * 4)
    assert Labels.from_model(pipeline, params).positive_index == 1
