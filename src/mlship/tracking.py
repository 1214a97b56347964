"""MLflow tracking: an embedded SQLite store by default, any server via MLFLOW_TRACKING_URI."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import os
import signal
import subprocess  # nosec B404
import threading
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import urlparse

import pandas as pd

from mlship.config import Params
from mlship.errors import ParamsError, TrackingError
from mlship.settings import TrackingSettings, read_settings

_GIT = "git"
# Store schemes MLflow 3 accepts ("" is a plain local path); a typo otherwise surfaces as an
# MLflow traceback from deep inside the first call.
_SCHEMES = frozenset(
    {"", "file", "http", "https", "sqlite", "postgresql", "mysql", "mssql"}
    | {"databricks", "databricks-uc", "uc"}
)


# MLflow's own defaults retry a refused connection 7 times with doubling pauses and wait up
# to 120 s for an answer: a stopped server took 4.5 minutes to report. Three tries, an 8 s
# connect/read timeout and a 2 s pause fail within ~30 s even when the host drops packets.
# A value the user set wins.
MLFLOW_HTTP_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "8",
}
_UNREACHABLE = ("Max retries exceeded", "Connection refused", "NewConnectionError", "timed out")
# What only a Databricks registry imports, which the serving image leaves out unless built with
# SERVING_EXTRAS=databricks (requirements/serve.excludes).
_DATABRICKS_ONLY = ("google.auth", "google.oauth2", "cryptography")


def tracking_uri(mlflow_dir: Path) -> str:
    """The configured server, else a SQLite file inside `mlflow_dir`."""
    configured = read_settings(TrackingSettings).tracking_uri.strip()
    if configured:
        scheme = urlparse(configured).scheme.split("+", 1)[0].lower()
        if scheme not in _SCHEMES:
            raise ParamsError(
                f"MLFLOW_TRACKING_URI={configured!r}: MLflow cannot use a {scheme!r} store; use "
                "http(s)://host:port, sqlite:///file.db, postgresql://..., or unset it for the "
                "embedded store"
            )
        if scheme in ("http", "https"):
            for name, value in MLFLOW_HTTP_DEFAULTS.items():
                os.environ.setdefault(name, value)
        return configured
    return f"sqlite:///{(mlflow_dir / 'mlflow.db').resolve()}"


@contextlib.contextmanager
def mlflow_errors(uri: str) -> Iterator[None]:
    """Turn a failed MLflow call into one TrackingError line naming the store."""
    # pylint: disable=import-outside-toplevel  # MLflow is slow to import
    import requests
    from mlflow.exceptions import MlflowException

    # urllib3 logs each retry as a warning; the error below says it once.
    retries = logging.getLogger("urllib3.connectionpool")
    # The SQLite store announces creating and upgrading its tables at INFO on every new
    # process, although nothing is wrong and nothing is asked of the user.
    store = logging.getLogger("mlflow.store.db.utils")
    level, store_level = retries.level, store.level
    retries.setLevel(logging.ERROR)
    store.setLevel(logging.WARNING)
    try:
        yield
    except (MlflowException, requests.RequestException) as error:
        text = str(error)
        if any(sign in text for sign in _UNREACHABLE):
            raise TrackingError(
                f"MLflow tracking server {uri} cannot be reached; start it, fix "
                "MLFLOW_TRACKING_URI, or unset it for the embedded store"
            ) from None
        first = text.strip().splitlines()[0] if text.strip() else type(error).__name__
        raise TrackingError(f"MLflow at {uri}: {first[:300]}") from None
    except ModuleNotFoundError as error:
        name = error.name or ""
        if not any(name == top or name.startswith(f"{top}.") for top in _DATABRICKS_ONLY):
            raise
        raise TrackingError(
            f"MLflow at {uri} needs {name}, which the serving image leaves out: build it with "
            "--build-arg SERVING_EXTRAS=databricks for a Databricks registry"
        ) from None
    finally:
        retries.setLevel(level)
        store.setLevel(store_level)


def check_tracking(params: Params) -> None:
    """Fail now, in one line, if the tracking store cannot be used (before any long work)."""
    with mlflow_errors(tracking_uri(params.paths.mlflow_dir)):
        configure(params)


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Let SIGTERM unwind like Ctrl-C while inside, so an open MLflow run ends as FAILED."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, _: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def use_store(mlflow_dir: Path) -> str:
    """Point MLflow's global URI at the tracking store (creating the embedded one's folder).

    MLflow resolves a run's `models:/m-...` source through this global URI, not a client's.
    (No set_registry_uri: it exports MLFLOW_REGISTRY_URI to every later subprocess; the
    registry follows tracking.) Returns the URI.
    """
    import mlflow  # pylint: disable=import-outside-toplevel  # slow import, only when tracking

    uri = tracking_uri(mlflow_dir)
    if uri.startswith("sqlite:///"):
        mlflow_dir.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    return uri


def use_experiment(name: str, mlflow_dir: Path) -> str:
    """Use the tracking store and return the id of experiment `name`, created if new.

    The embedded store keeps its artifacts beside its database, not in the working directory.
    """
    import mlflow  # pylint: disable=import-outside-toplevel  # slow import, only when tracking

    uri = use_store(mlflow_dir)
    experiment = mlflow.get_experiment_by_name(name)
    if experiment is not None:
        return str(experiment.experiment_id)
    location = None
    if uri.startswith("sqlite:///"):
        location = (mlflow_dir / "artifacts").resolve().as_uri()
    return str(mlflow.create_experiment(name, artifact_location=location))


def configure(params: Params) -> str:
    """Point MLflow at the tracking store and select the experiment; return the experiment id."""
    return use_experiment(params.tracking.experiment, params.paths.mlflow_dir)


def file_md5(path: Path) -> str | None:
    """MD5 of a file, or None when it does not exist."""
    try:
        return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()
    except FileNotFoundError:
        return None


def git_commit() -> str:
    """The checked-out commit, or 'unknown' outside a git work tree."""
    try:
        # Fixed arguments, no shell
        result = subprocess.run(  # nosec B603
            [_GIT, "rev-parse", "HEAD"], capture_output=True, text=True, check=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return result.stdout.strip()


# What a logged model needs to load and predict. Listing them (pinned to this environment)
# spares MLflow its requirement inference, a subprocess that re-imports the model (~5-60 s).
_MODEL_PACKAGES = ("mlflow", "scikit-learn", "skops", "pandas", "numpy", "scipy")


def model_requirements() -> list[str]:
    """Pinned requirements of a logged model, read from the installed distributions."""
    return [f"{name}=={metadata.version(name)}" for name in _MODEL_PACKAGES]


def flatten(prefix: str, value: Any) -> dict[str, Any]:
    """Flatten nested params into dotted keys, as MLflow stores them."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(flatten(f"{prefix}.{key}" if prefix else str(key), item))
        return out
    return {prefix: value}


def log_run(
    params: Params,
    metrics: dict[str, float],
    model_path: Path,
    meta: dict[str, Any],
    example: pd.DataFrame,
    plots_dir: Path,
) -> str:
    """Record one evaluated model: params, metrics, plots, the model with signature, lineage.

    A failure or an interruption (Ctrl-C, SIGTERM) inside ends the run as FAILED, not RUNNING.

    Raises:
        TrackingError: the tracking store cannot be reached or refused a call.
    """
    # pylint: disable=import-outside-toplevel  # MLflow is slow to import; only load it here
    import mlflow
    import mlflow.sklearn
    from mlflow.models import infer_signature

    from mlship.model.artifact import load_model

    uri = tracking_uri(params.paths.mlflow_dir)
    with mlflow_errors(uri), terminate_as_interrupt():
        experiment_id = configure(params)
        pipeline = load_model(model_path, meta["trusted_types"])
        method = "predict" if params.data.task == "regression" else "predict_proba"
        signature = infer_signature(example, getattr(pipeline, method)(example))
        tags = {
            "mlship.git_commit": git_commit(),
            "mlship.data_md5": meta["data_md5"],
            "mlship.model_md5": file_md5(model_path) or "",
            "mlship.task": params.data.task,
        }
        logged = flatten("", params.model_dump(mode="json", by_alias=True, exclude={"paths"}))
        with mlflow.start_run(experiment_id=experiment_id) as run:
            mlflow.set_tags(tags)
            mlflow.log_params({key: str(value)[:500] for key, value in logged.items()})
            mlflow.log_metrics(
                {key: value for key, value in metrics.items() if not math.isnan(value)}
            )
            mlflow.log_artifacts(str(plots_dir), artifact_path="plots")
            mlflow.log_artifact(str(model_path.with_name("model.json")), artifact_path="mlship")
            mlflow.sklearn.log_model(
                pipeline,
                name="model",
                signature=signature,
                input_example=example,
                serialization_format="skops",
                skops_trusted_types=meta["trusted_types"],
                pyfunc_predict_fn=method,
                pip_requirements=model_requirements(),
            )
            return str(run.info.run_id)
