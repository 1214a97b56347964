"""Turn a fitted pipeline and a frame into encoded labels, scores and a predictions table."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from mlship.config import DataParams, Task
from mlship.errors import DataError


@dataclass(frozen=True)
class Labels:
    """How a classifier's classes map to the encoded target the metrics use."""

    classes: list[Any]
    positive_index: int | None

    @classmethod
    def from_model(cls, pipeline: Pipeline, data: DataParams) -> Labels:
        """Read the classes from a fitted classifier (empty for a regressor)."""
        if not data.is_classification:
            return cls([], None)
        classes = [_plain(value) for value in pipeline.classes_]
        if data.task != "binary":
            return cls(classes, None)
        if len(classes) != 2:
            raise DataError(f"task 'binary' needs exactly 2 target classes, found {classes}")
        positive = data.positive_label if data.positive_label is not None else classes[-1]
        wanted = _label_text(positive)
        matches = [i for i, value in enumerate(classes) if _label_text(value) == wanted]
        if not matches:
            raise DataError(f"positive_label {positive!r} is not a target class {classes}")
        return cls(classes, matches[0])


def _label_text(value: Any) -> str:
    """A label as text, so that 1, 1.0, "1" and True name the same class."""
    if isinstance(value, (bool, np.bool_)):
        return str(int(value))
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def encode_target(y: pd.Series, labels: Labels, task: Task) -> np.ndarray:
    """Encode y: 0/1 for binary (1 = positive), class index for multiclass, float otherwise."""
    if task == "regression":
        return np.asarray(y.to_numpy(dtype="float64"))
    index = {str(value): i for i, value in enumerate(labels.classes)}
    codes = y.astype(str).map(index)
    if codes.isna().any():
        unseen = sorted(set(y.astype(str)[codes.isna()]))[:5]
        raise DataError(f"target has classes the model never saw: {unseen}")
    encoded: np.ndarray = codes.to_numpy(dtype="int64")
    if task == "binary":
        return np.asarray(encoded == labels.positive_index, dtype="int64")
    return encoded


def predict_scores(
    pipeline: Pipeline, features: pd.DataFrame, labels: Labels, task: Task
) -> np.ndarray:
    """P(positive) for binary, a probability matrix for multiclass, predictions otherwise."""
    if task == "regression":
        return np.asarray(pipeline.predict(features), dtype="float64")
    proba = np.asarray(pipeline.predict_proba(features), dtype="float64")
    if task == "binary":
        return proba[:, labels.positive_index]
    return proba


def predictions_frame(
    ids: pd.Series, y_true: np.ndarray, scores: np.ndarray, task: Task
) -> pd.DataFrame:
    """One row per held-out example: id, encoded truth and the model's scores."""
    frame = pd.DataFrame({"id": ids.astype(str).to_numpy(), "y_true": y_true})
    if task == "multiclass":
        for column in range(scores.shape[1]):
            frame[f"proba_{column}"] = scores[:, column]
    else:
        frame["score"] = scores
    return frame


def scores_from_frame(frame: pd.DataFrame, task: Task) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of `predictions_frame`: (y_true, scores)."""
    if task == "multiclass":
        columns = sorted(
            (c for c in frame.columns if c.startswith("proba_")), key=lambda c: int(c[6:])
        )
        return frame["y_true"].to_numpy(dtype="int64"), frame[columns].to_numpy(dtype="float64")
    dtype = "float64" if task == "regression" else "int64"
    return frame["y_true"].to_numpy(dtype=dtype), frame["score"].to_numpy(dtype="float64")


def rows_hash(frame: pd.DataFrame, columns: list[str]) -> str:
    """A content hash of the given columns, row order included (identifies held-out rows)."""
    hashed = pd.util.hash_pandas_object(frame[columns].astype(str), index=False)
    return hashlib.sha256(hashed.to_numpy().tobytes()).hexdigest()
