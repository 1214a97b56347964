"""Load a served model from a model directory or a registry alias, and score records fast."""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from mlship.errors import ModelError, RegistryError
from mlship.model.artifact import load_model
from mlship.tracking import file_md5, tracking_uri

_ALIAS_URI = re.compile(r"^models:/(?P<name>[^@/]+)@(?P<alias>[A-Za-z0-9_-]+)$")


@dataclass(frozen=True)
class Result:
    """Scores of one batch: a label, the positive-class (or top) probability, class probs."""

    predictions: list[Any]
    probabilities: list[float | None]
    class_probabilities: list[list[float]] | None


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
        return Result(labels, [float(p) for p in proba.max(axis=1)], proba.tolist())


def _read_meta(path: Path) -> dict[str, Any]:
    try:
        meta: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise ModelError(f"{path}: cannot read model metadata: {error}") from None
    missing = {"task", "numeric", "categorical", "trusted_types"} - set(meta)
    if missing:
        raise ModelError(f"{path}: model metadata lacks {sorted(missing)}")
    return meta


def load_directory(directory: Path, alias: str | None = None) -> ServedModel:
    """A model directory as written by the train stage (model.skops + model.json)."""
    meta = _read_meta(directory / "model.json")
    pipeline = load_model(directory / "model.skops", list(meta["trusted_types"]))
    digest = file_md5(directory / "model.skops") or "unknown"
    return ServedModel(pipeline, meta, str(directory), f"local-{digest[:8]}", alias)


def load_registered(
    name: str, alias: str, mlflow_dir: Path, required: bool = True
) -> ServedModel | None:
    """The version a registry alias points at; None when the alias is unset and not required."""
    # pylint: disable=import-outside-toplevel  # MLflow is slow to import; only for aliases
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from mlship.registry.core import Registry

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    uri = tracking_uri(mlflow_dir)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
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
    try:
        with tempfile.TemporaryDirectory(prefix="mlship-model-") as temp:
            model_dir = Path(
                client.download_artifacts(found.run_id, "mlship/model.json", temp)
            ).parent
            import mlflow.artifacts

            downloaded = mlflow.artifacts.download_artifacts(
                artifact_uri=f"models:/{name}/{version}", dst_path=str(Path(temp) / "model")
            )
            meta = _read_meta(model_dir / "model.json")
            pipeline = load_model(Path(downloaded) / "model.skops", list(meta["trusted_types"]))
    except MlflowException as error:
        raise RegistryError(
            f"registry: cannot download {name} version {version}: {error}"
        ) from None
    return ServedModel(pipeline, meta, f"models:/{name}@{alias}", str(version), alias)


def load_source(source: str, mlflow_dir: Path, required: bool = True) -> ServedModel | None:
    """A model from `models:/<name>@<alias>` or a directory path."""
    match = _ALIAS_URI.match(source)
    if match:
        return load_registered(match["name"], match["alias"], mlflow_dir, required)
    if source.startswith("models:/"):
        raise ModelError(f"{source}: expected models:/<name>@<alias> or a model directory")
    return load_directory(Path(source))


def load_models(
    champion_source: str, challenger_source: str | None, mlflow_dir: Path
) -> tuple[ServedModel, ServedModel | None]:
    """The champion and the optional challenger; both must take the same features."""
    champion = load_source(champion_source, mlflow_dir)
    if champion is None:
        raise ModelError(f"no champion at {champion_source}")
    challenger = None
    if challenger_source:
        challenger = load_source(challenger_source, mlflow_dir, required=False)
    if challenger is not None and challenger.feature_schema != champion.feature_schema:
        raise ModelError(
            f"challenger {challenger.source} has other features than the champion "
            f"{champion.source}; both must take the same input"
        )
    return champion, challenger
