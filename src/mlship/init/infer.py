"""What `mlship init` reads from a table: the task, the features, the schema and fitting params.

Pure functions on a frame; each decision comes with a note saying what was chosen and why.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import pandera.pandas as pa

from mlship.config import Task
from mlship.errors import ParamsError

# A numeric target with at most this many distinct integer values is read as class labels.
MAX_CLASSES = 20
# Categories listed in schema.yaml's `allowed` up to this many distinct values.
MAX_ALLOWED = 50
# A text column with more distinct values than this share of its rows is free text or an id.
TEXT_UNIQUE_SHARE = 0.5
# Observed ranges are widened by this share of their span, so tomorrow's data is not rejected
# for being a little beyond today's extremes.
RANGE_MARGIN = 0.1


@dataclass
class Inference:
    """What init decided, and the notes that explain each decision."""

    task: Task
    numeric: list[str]
    categorical: list[str]
    positive_label: str | int | None = None
    notes: list[str] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _labels(target: pd.Series) -> list[Any]:
    """Distinct target values as people wrote them (1.0 read as float is the class 1)."""
    known = target.dropna()
    if pd.api.types.is_bool_dtype(known):
        known = known.astype("int64")
    elif pd.api.types.is_float_dtype(known) and (known % 1 == 0).all():
        known = known.astype("int64")
    return sorted((_plain(v) for v in known.unique()), key=str)


def infer_task(target: pd.Series, told: Task | None) -> tuple[Task, str]:
    """The task for `target` and the reason for it; a told task is checked against the data."""
    labels = _labels(target)
    numeric = pd.api.types.is_numeric_dtype(target) and not pd.api.types.is_bool_dtype(target)
    integral = numeric and bool((target.dropna() % 1 == 0).all())
    if len(labels) < 2:
        raise ParamsError(f"target '{target.name}': {len(labels)} distinct value(s); need two")
    if told is not None:
        if told == "regression" and not numeric:
            raise ParamsError(f"--task regression: target '{target.name}' is not numeric")
        if told == "binary" and len(labels) != 2:
            raise ParamsError(
                f"--task binary: target '{target.name}' has {len(labels)} classes, not 2"
            )
        return told, "as told (--task)"
    if len(labels) == 2:
        return "binary", f"the target has two values {labels}"
    if not numeric:
        return "multiclass", f"the target holds {len(labels)} text labels"
    if integral and len(labels) <= MAX_CLASSES:
        return "multiclass", (
            f"the target holds {len(labels)} distinct integers (at most {MAX_CLASSES} read as "
            "classes; pass --task regression to predict them as numbers)"
        )
    return "regression", f"the target is numeric with {len(labels)} distinct values"


def choose_positive(target: pd.Series, told: str | None) -> tuple[str | int, str]:
    """The positive class of a binary target and the reason for it."""
    labels = _labels(target)
    if told is not None:
        matching = [label for label in labels if str(label) == told]
        if not matching:
            raise ParamsError(f"--positive-label {told!r} is not a value of the target {labels}")
        return matching[0], "as told (--positive-label)"
    if set(map(str, labels)) == {"0", "1"}:
        return 1, "the target is 0/1"
    counts = target.dropna().astype(str).value_counts()
    rarer = str(counts.sort_index().sort_values(kind="stable").index[0])
    positive = next(label for label in labels if str(label) == rarer)
    return positive, "the rarer class (pass --positive-label to choose the other)"


def infer_features(frame: pd.DataFrame, target: str, id_column: str | None) -> Inference:
    """Sort the columns other than target and id into numeric and categorical features."""
    numeric: list[str] = []
    categorical: list[str] = []
    left_out: list[str] = []
    for name in frame.columns:
        if name in (target, id_column):
            continue
        column = frame[name]
        known = column.dropna()
        reason = _left_out_because(column, known)
        if reason:
            left_out.append(f"'{name}' ({reason})")
        elif pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
            numeric.append(str(name))
        else:
            categorical.append(str(name))
    if not numeric and not categorical:
        raise ParamsError("no usable feature column: " + ", ".join(left_out or ["none left"]))
    result = Inference("binary", numeric, categorical)  # task is set by the caller
    result.notes.append(f"numeric features ({len(numeric)}): {', '.join(numeric) or '-'}")
    result.notes.append(
        f"categorical features ({len(categorical)}): {', '.join(categorical) or '-'}"
    )
    if left_out:
        result.notes.append("left out: " + ", ".join(left_out))
    return result


def _left_out_because(  # pylint: disable=too-many-return-statements  # one per reason
    column: pd.Series, known: pd.Series
) -> str | None:
    if known.empty:
        return "all null"
    distinct = int(known.nunique())
    if distinct == 1:
        return "constant"
    if pd.api.types.is_datetime64_any_dtype(column):
        return "a date: derive numeric features from it first"
    if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        if pd.api.types.is_integer_dtype(column) and distinct == len(column):
            ordered = known.sort_values().to_numpy()
            if bool((ordered[1:] - ordered[:-1] == 1).all()):
                return "a row number: every value unique and consecutive; --id names an id"
        return None
    if distinct == len(column):
        return "every value unique, like an id; pass --id to use it as the id"
    if distinct > MAX_ALLOWED and distinct > TEXT_UNIQUE_SHARE * len(known):
        return f"free text: {distinct} distinct values"
    return None


def _step(span: float) -> float:
    """A round step three significant digits below the span, to round bounds outward."""
    return float(10 ** (math.floor(math.log10(span)) - 2)) if span > 0 else 1.0


def _bounds(minimum: float, maximum: float, integral: bool) -> tuple[float | int, float | int]:
    span = maximum - minimum
    low, high = minimum - RANGE_MARGIN * span, maximum + RANGE_MARGIN * span
    if minimum >= 0:
        low = max(low, 0.0)  # a count or amount stays non-negative
    if integral:
        return int(math.floor(low)), int(math.ceil(high))
    step = _step(span)
    return (
        round(math.floor(low / step) * step, 10),
        round(math.ceil(high / step) * step, 10),
    )


def _statistic(column: pa.Column, key: str) -> float | None:
    for check in column.checks:
        value = (check.statistics or {}).get(key)
        if value is not None:
            return float(value)
    return None


def infer_schema_rules(
    frame: pd.DataFrame,
    task: Task,
    target: str,
    id_column: str | None,
    numeric: list[str],
    categorical: list[str],
) -> dict[str, dict[str, Any]]:
    """schema.yaml's `columns`: ranges, allowed categories, nullability and unique ids.

    pandera's inference gives each column's dtype, nullability and observed range; the margin,
    the allowed categories and the id's uniqueness are added here.
    """
    inferred = pa.infer_schema(frame[[*numeric, *categorical, target]])
    rules: dict[str, dict[str, Any]] = {}
    if id_column:
        rules[id_column] = {"nullable": False, "unique": True}
    ranged = [*numeric, target] if task == "regression" else numeric
    for name in [*numeric, *categorical, target]:
        column = inferred.columns[name]
        rule: dict[str, Any] = {}
        if name in ranged:
            low, high = _statistic(column, "min_value"), _statistic(column, "max_value")
            if low is not None and high is not None:
                integral = bool((frame[name].dropna() % 1 == 0).all())
                rule["min"], rule["max"] = _bounds(low, high, integral)
        else:
            values = _labels(frame[name])
            if len(values) <= MAX_ALLOWED or name == target:
                rule["allowed"] = values
        if name != target:
            rule["nullable"] = bool(column.nullable)
        rules[str(name)] = rule
    return rules


def _floor_down(value: float, digits: int = 2) -> float:
    return float(math.floor(value * 10**digits) / 10**digits)


def task_defaults(
    frame: pd.DataFrame, task: Task, target: str, features: list[str]
) -> dict[str, Any]:
    """Params that fit the task and the data: gate metrics and floors, key metrics, checks.

    Keys are dotted params paths; values are what init writes there.
    """
    rows = len(frame)
    known = frame[target].dropna()
    defaults: dict[str, Any] = {
        "validate.min_rows": min(rows, max(10, min(1000, rows // 2))),
        "validate.drop_missing_target": bool(frame[target].isna().any()),
        "split.stratify": task != "regression",
    }
    missing = float(frame[features].isna().mean().max())
    defaults["validate.max_missing_fraction"] = max(0.5, min(1.0, math.ceil(missing * 10) / 10))
    if task == "regression":
        spread = float(known.std())
        defaults["gate.metrics"] = {
            # r2 = 0 is predicting the mean: a model must do better than that.
            "r2": {"floor": 0.0, "max_drop": 0.02},
            "rmse": {"max_drop": float(f"{0.02 * spread:.3g}")},
        }
        defaults["registry.key_metrics"] = ["rmse", "mae", "r2"]
        return defaults
    shares = known.astype(str).value_counts(normalize=True)
    defaults["validate.min_class_fraction"] = min(0.05, _floor_down(float(shares.min()) / 2, 3))
    if task == "binary":
        defaults["gate.metrics"] = {
            # 0.5 is chance; the positive rate is the PR AUC of a model that knows nothing.
            "roc_auc": {"floor": 0.6, "max_drop": 0.01},
            "pr_auc": {"max_drop": 0.02},
            "log_loss": {"max_drop": 0.02},
        }
        defaults["registry.key_metrics"] = ["roc_auc", "pr_auc", "log_loss"]
    else:
        defaults["gate.metrics"] = {
            # Always answering the most frequent class scores its share: a floor to beat.
            "accuracy": {"floor": _floor_down(float(shares.max())), "max_drop": 0.02},
            "macro_f1": {"max_drop": 0.02},
            "log_loss": {"max_drop": 0.05},
        }
        defaults["registry.key_metrics"] = ["accuracy", "macro_f1", "log_loss"]
    return defaults
