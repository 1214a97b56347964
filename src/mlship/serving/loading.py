"""Load a served model from a model directory or a registry alias, and score records fast."""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from mlship.errors import LoadFailed, MlshipError, ModelError, RegistryError
from mlship.model.artifact import load_model
from mlship.tracking import file_md5, mlflow_errors, tracking_uri

if TYPE_CHECKING:
    from mlflow import MlflowClient

_ALIAS_URI = re.compile(r"^models:/(?P<name>[^@/]+)@(?P<alias>[A-Za-z0-9_-]+)$")
_TASKS = ("binary", "multiclass", "regression")
T = TypeVar("T")


@dataclass(frozen=True)
class Result:
    """Scores of one batch: a label, the positive-class (or top) probability, class probs."""

    predictions: list[Any]
    probabilities: list[float | None]
    class_probabilities: list[dict[str, float]] | None  # class (as text) -> probability


@dataclass(frozen=True)
class ServedModel:
    """A fitted pipeline with what the service needs to validate input and report itself."""

    pipeline: Pipeline
    meta: dict[str, Any]
    source: str
    version: str
    alias: str | None = None
    columns: list[str] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "columns", [*self.meta["numeric"], *self.meta["categorical"]])

    @property
    def task(self) -> str:
        """binary, multiclass or regression."""
        return str(self.meta["task"])

    @property
    def feature_schema(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(numeric, categorical) column names: two models are interchangeable when equal."""
        return tuple(self.meta["numeric"]), tuple(self.meta["categorical"])

    def frame(self, columns: dict[str, list[Any]]) -> pd.DataFrame:
        """Build the model's input frame from columns of plain values (None = missing)."""
        data: dict[str, Any] = {}
        for name in self.meta["numeric"]:
            data[name] = np.array(
                [np.nan if v is None else v for v in columns[name]], dtype="float64"
            )
        for name in self.meta["categorical"]:
            data[name] = pd.array(columns[name], dtype="str")
        return pd.DataFrame(data, columns=self.columns)

    def score(self, columns: dict[str, list[Any]]) -> Result:
        """Predict a batch given as columns; the same numbers as the evaluate stage."""
        features = self.frame(columns)
        if self.task == "regression":
            values = np.asarray(self.pipeline.predict(features), dtype="float64")
            return Result([float(v) for v in values], [None] * len(values), None)
        proba = np.asarray(self.pipeline.predict_proba(features), dtype="float64")
        classes = self.meta["classes"]
        labels = [classes[i] for i in np.argmax(proba, axis=1)]
        if self.task == "binary":
            positive = proba[:, int(self.meta["positive_index"])]
            return Result(labels, [float(p) for p in positive], None)
        names = [str(name) for name in classes]
        by_class = [dict(zip(names, row)) for row in proba.tolist()]
        return Result(labels, [float(p) for p in proba.max(axis=1)], by_class)


def _names(meta: dict[str, Any], key: str) -> str | None:
    value = meta.get(key)
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        return f"{key} must be a list of strings, got {str(value)[:80]}"
    return None


def _meta_problems(meta: dict[str, Any]) -> list[str]:
    problems = [
        p for key in ("numeric", "categorical", "trusted_types") if (p := _names(meta, key))
    ]
    task = meta.get("task")
    if task not in _TASKS:
        problems.append(f"task must be one of {list(_TASKS)}, got {str(task)[:80]}")
    elif task != "regression":
        classes = meta.get("classes")
        if not isinstance(classes, list) or len(classes) < 2:
            problems.append(f"classes must list at least 2 labels, got {str(classes)[:80]}")
        elif task == "binary":
            index = meta.get("positive_index")
            if isinstance(index, bool) or index not in range(len(classes)):
                problems.append(f"positive_index must index classes, got {str(index)[:80]}")
    return problems


def _read_meta(path: Path) -> dict[str, Any]:
    try:
        meta: Any = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ModelError(f"{path}: cannot read model metadata: {error}") from None
    if not isinstance(meta, dict):
        raise ModelError(f"{path}: model metadata is not a JSON object")
    missing = {"task", "numeric", "categorical", "trusted_types"} - set(meta)
    if missing:
        raise ModelError(f"{path}: model metadata lacks {sorted(missing)}")
    problems = _meta_problems(meta)
    if problems:
        raise ModelError(f"{path}: invalid model metadata: {'; '.join(problems)}")
    return meta


def load_directory(directory: Path, alias: str | None = None) -> ServedModel:
    """A model directory as written by the train stage (model.skops + model.json)."""
    meta = _read_meta(directory / "model.json")
    pipeline = load_model(directory / "model.skops", list(meta["trusted_types"]))
    digest = file_md5(directory / "model.skops") or "unknown"
    return ServedModel(pipeline, meta, str(directory), f"local-{digest[:8]}", alias)


def _with_registry(mlflow_dir: Path, work: Callable[[MlflowClient], T]) -> T:
    # pylint: disable=import-outside-toplevel  # MLflow is slow to import; only for aliases
    from mlflow import MlflowClient

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    uri = tracking_uri(mlflow_dir)
    with mlflow_errors(uri):
        return work(MlflowClient(tracking_uri=uri, registry_uri=uri))


def load_registered(
    name: str, alias: str, mlflow_dir: Path, required: bool = True
) -> ServedModel | None:
    """The version a registry alias points at; None when the alias is unset and not required."""
    return _with_registry(
        mlflow_dir, lambda client: _load_registered(client, name, alias, required)
    )


def _registered_run(
    client: MlflowClient, name: str, alias: str, required: bool
) -> tuple[str, str] | None:
    """(version, run id) of the alias; None when it is unset and not required."""
    # pylint: disable=import-outside-toplevel  # MLflow is slow to import; only for aliases
    from mlship.registry.core import Registry

    version = Registry(client, name).version_for(alias)
    if version is None:
        if required:
            raise RegistryError(f"registry: models:/{name}@{alias} is not set")
        return None
    found = client.get_model_version(name, version)
    if not found.run_id:
        raise RegistryError(
            f"registry: {name} version {version} has no run to read model.json from"
        )
    return str(version), str(found.run_id)


def _registered_meta(client: MlflowClient, run_id: str, temp: str) -> dict[str, Any]:
    path = Path(client.download_artifacts(run_id, "mlship/model.json", temp))
    return _read_meta(path.parent / "model.json")


def _load_registered(
    client: MlflowClient, name: str, alias: str, required: bool
) -> ServedModel | None:
    # pylint: disable=import-outside-toplevel  # MLflow is slow to import; only for aliases
    import mlflow.artifacts
    from mlflow.exceptions import MlflowException

    found = _registered_run(client, name, alias, required)
    if found is None:
        return None
    version, run_id = found
    try:
        with tempfile.TemporaryDirectory(prefix="mlship-model-") as temp:
            meta = _registered_meta(client, run_id, temp)
            downloaded = mlflow.artifacts.download_artifacts(
                artifact_uri=f"models:/{name}/{version}", dst_path=str(Path(temp) / "model")
            )
            pipeline = load_model(Path(downloaded) / "model.skops", list(meta["trusted_types"]))
    except MlflowException as error:
        raise RegistryError(
            f"registry: cannot download {name} version {version}: {error}"
        ) from None
    return ServedModel(pipeline, meta, f"models:/{name}@{alias}", version, alias)


def _read_registered_meta(client: MlflowClient, name: str, alias: str) -> dict[str, Any]:
    # pylint: disable=import-outside-toplevel  # MLflow is slow to import; only for aliases
    from mlflow.exceptions import MlflowException

    found = _registered_run(client, name, alias, required=True)
    if found is None:  # for mypy: a required alias that is unset raised
        raise RegistryError(f"registry: models:/{name}@{alias} is not set")
    version, run_id = found
    try:
        with tempfile.TemporaryDirectory(prefix="mlship-model-") as temp:
            return _registered_meta(client, run_id, temp)
    except MlflowException as error:
        raise RegistryError(
            f"registry: cannot download {name} version {version}'s model.json: {error}"
        ) from None


def _alias(source: str) -> tuple[str, str] | None:
    """(name, alias) of a `models:/<name>@<alias>` source, None for a directory."""
    if not source.isprintable():
        raise ModelError("a model source holds no control characters")
    match = _ALIAS_URI.match(source)
    if match:
        return match["name"], match["alias"]
    if source.startswith("models:/"):
        raise ModelError(f"{source}: expected models:/<name>@<alias> or a model directory")
    return None


def read_metadata(source: str, mlflow_dir: Path) -> dict[str, Any]:
    """The model.json of a model source (`models:/<name>@<alias>` or a directory), no model.

    Raises:
        MlshipError: the source is malformed, unset, unreachable or its metadata invalid.
    """
    registered = _alias(source)
    if registered is None:
        return _read_meta(Path(source) / "model.json")
    name, alias = registered
    return _with_registry(mlflow_dir, lambda client: _read_registered_meta(client, name, alias))


def load_source(source: str, mlflow_dir: Path, required: bool = True) -> ServedModel | None:
    """A model from `models:/<name>@<alias>` or a directory path.

    Raises:
        MlshipError: whatever stops the load, a corrupt artifact included.
    """
    registered = _alias(source)
    if registered is None:
        return load_directory(Path(source))
    return load_registered(*registered, mlflow_dir, required)


def _load_role(role: str, source: str, mlflow_dir: Path, required: bool) -> ServedModel | None:
    try:
        return load_source(source, mlflow_dir, required)
    except MlshipError as error:
        raise LoadFailed(role, error) from None
    except Exception as error:  # pylint: disable=broad-exception-caught
        # A model file is foreign input: skops, numpy and scikit-learn raise what they like on
        # a corrupt one. Whatever it is, it must stop this load with a message, not the server.
        cause = ModelError(f"{source}: cannot load: {type(error).__name__}: {str(error)[:300]}")
        raise LoadFailed(role, cause) from None


@dataclass(frozen=True)
class Loaded:
    """What a load gave: the champion, the challenger, and why a challenger is missing."""

    champion: ServedModel
    challenger: ServedModel | None = None
    challenger_error: str | None = None


def load_models(
    champion_source: str,
    challenger_source: str | None,
    mlflow_dir: Path,
    challenger_optional: bool = False,
) -> Loaded:
    """The champion and the optional challenger; both must take the same features.

    With `challenger_optional` (a service starting), a challenger that cannot load leaves the
    champion serving alone and its reason in `challenger_error`; otherwise it fails the load.
    """
    champion = _load_role("champion", champion_source, mlflow_dir, required=True)
    if champion is None:
        raise ModelError(f"no champion at {champion_source}")
    if not challenger_source:
        return Loaded(champion)
    try:
        challenger = _load_role("challenger", challenger_source, mlflow_dir, required=False)
        if challenger is not None and challenger.feature_schema != champion.feature_schema:
            raise LoadFailed(
                "challenger",
                ModelError(
                    f"challenger {challenger.source} has other features than the champion "
                    f"{champion.source}; both must take the same input"
                ),
            )
    except LoadFailed as error:
        if not challenger_optional:
            raise
        return Loaded(champion, None, str(error))
    return Loaded(champion, challenger)
