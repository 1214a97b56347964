"""Real models that behave well or badly, a registry holding them, a live service and traffic.

Every challenger is a genuine scikit-learn pipeline trained on the project's data, logged to
MLflow and registered; nothing in the service is patched:
  good     the champion's recipe with a slightly different learning rate
  erroring a pipeline whose one-hot encoder rejects unknown categories, trained without the
           `region` value "west": every request carrying "west" fails inside the model
  slow     the champion's recipe with 8,000 trees at a 40x smaller learning rate: nearly the
           same predictions, ~60 ms more per call (about 12x the champion's time)
  shifted  a logistic regression retrained with class_weight="balanced" and not recalibrated:
           every probability pushed upwards (PSI about 0.9 against the champion)
"""

from __future__ import annotations

import json
import os
import random
import subprocess  # nosec B404
import sys
import threading
import uuid
import warnings
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
import yaml

from mlship.config import Params, TrainParams, parse_params
from mlship.model.artifact import save_model
from mlship.model.pipeline import make_pipeline
from mlship.registry.core import CHALLENGER, CHAMPION, Registry

REPO = Path(__file__).resolve().parents[2]
ADMIN_TOKEN = "rollout-test-token"  # nosec B105 - a throwaway token for a loopback service
MODEL_NAME = "churn"

VARIANTS: dict[str, dict[str, Any]] = {
    "champion": {},
    "good": {"hyperparams": {"learning_rate": 0.09, "max_iter": 200, "max_leaf_nodes": 31}},
    "erroring": {"strict_without_region": "west"},
    # The champion's recipe with 40x the trees at a 40x smaller step: about the same
    # predictions (PSI ~0.03), ~60 ms more work per call.
    "slow": {"hyperparams": {"learning_rate": 0.0025, "max_iter": 8000, "max_leaf_nodes": 31}},
    "shifted": {"model": "linear", "hyperparams": {"class_weight": "balanced"}},
}


def _import_serving_helpers() -> Any:
    path = str(REPO / "tests" / "serving")
    if path not in sys.path:
        sys.path.insert(0, path)
    import serving_helpers  # pylint: disable=import-outside-toplevel,import-error

    return serving_helpers


serving_helpers = _import_serving_helpers()


def train_variant(root: Path, params: Params, name: str, out: Path) -> Path:
    """Fit one variant on the project's training split; write model.skops + model.json."""
    spec = dict(VARIANTS[name])
    strict = spec.pop("strict_without_region", None)
    base = params.train.model_dump()
    if spec.get("model", base["model"]) != base["model"]:
        merged = {**base, **spec}
    else:
        hyperparams = {**base["hyperparams"], **spec.get("hyperparams", {})}
        merged = {**base, **spec, "hyperparams": hyperparams}
    train = TrainParams.model_validate(merged)
    frame = pd.read_parquet(root / params.paths.split_dir / "train.parquet")
    pipeline = make_pipeline(params.data, train)
    if strict is not None:
        pipeline.set_params(preprocess__categorical__onehot__handle_unknown="error")
        frame = frame[frame["region"] != strict]
    pipeline.fit(frame[params.data.features], frame[params.data.target])
    out.mkdir(parents=True, exist_ok=True)
    types = save_model(pipeline, out / "model.skops")
    meta = json.loads((root / params.paths.model_dir / "model.json").read_text(encoding="utf-8"))
    meta.update(trusted_types=types, model=train.model)
    if strict is not None:
        meta["input_example"] = [r for r in meta["input_example"] if r["region"] != strict]
    (out / "model.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    return out


def log_variant(root: Path, params: Params, model_dir: Path) -> str:
    """Log a variant as an MLflow run (model, signature, lineage) like the evaluate stage."""
    # pylint: disable=import-outside-toplevel
    from mlship.tracking import log_run

    tracked = params.model_copy(
        update={"tracking": params.tracking.model_copy(update={"enabled": True})}
    )
    meta = json.loads((model_dir / "model.json").read_text(encoding="utf-8"))
    metrics = json.loads((root / params.paths.metrics).read_text(encoding="utf-8"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MLflow's model logging warns about pandas 3
        return log_run(
            tracked,
            metrics,
            model_dir / "model.skops",
            meta,
            pd.DataFrame(meta["input_example"]),
            root / params.paths.plots_dir,
        )


def mlship(
    *args: str, cwd: Path, env: dict[str, str], timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run the `mlship` CLI as a user would, in `cwd` with `env` added."""
    return subprocess.run(  # nosec B603
        [sys.executable, "-m", "mlship.cli", *args],
        cwd=cwd,
        env={**os.environ, **env},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@dataclass
class World:
    """A project directory with a registry of trained variants."""

    root: Path
    params: Params
    env: dict[str, str]
    runs: dict[str, str] = field(default_factory=dict)

    def cli(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """`mlship ...` in the project with its tracking store."""
        return mlship(*args, cwd=self.root, env=self.env, timeout=timeout)

    @contextmanager
    def registry(self) -> Iterator[Registry]:
        """The project's registry, in this process (MLflow's import warnings silenced)."""
        # pylint: disable=import-outside-toplevel
        from mlflow import MlflowClient

        uri = self.env["MLFLOW_TRACKING_URI"]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield Registry(MlflowClient(tracking_uri=uri, registry_uri=uri), MODEL_NAME)

    def register(self, variant: str) -> str:
        """Register a variant's run as the challenger; return the new version."""
        with self.registry() as registry:
            return registry.register(self.runs[variant])

    def history(self) -> list[dict[str, Any]]:
        """The registry's promotion history."""
        with self.registry() as registry:
            return registry.history()

    def aliases(self) -> dict[str, str]:
        """alias -> version."""
        with self.registry() as registry:
            found = {alias: registry.version_for(alias) for alias in (CHAMPION, CHALLENGER)}
        return {alias: version for alias, version in found.items() if version is not None}


def make_world(
    trained: tuple[Path, Params], target: Path, variants: tuple[str, ...] = tuple(VARIANTS)
) -> World:
    """Copy the trained project's params, train and log the variants, make `champion` champion."""
    source, params = trained
    raw = yaml.safe_load((source / "params.yaml").read_text(encoding="utf-8"))
    raw["tracking"]["enabled"] = True
    # A test step sees ~60 challenger requests, so its p95 is noisy: a 50 ms slack keeps an
    # equally fast challenger from being rolled back while the slow one (+60 ms) still is.
    raw["rollout"]["p95_slack_ms"] = 50
    target.mkdir(parents=True, exist_ok=True)
    (target / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    env = {
        "MLFLOW_TRACKING_URI": f"sqlite:///{target / 'mlflow.db'}",
        "MLSHIP_ADMIN_TOKEN": ADMIN_TOKEN,
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    }
    world = World(target, parse_params(raw), env)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", env["MLFLOW_TRACKING_URI"])
        patch.chdir(target)
        for name in variants:
            model_dir = train_variant(source, params, name, target / "variants" / name)
            world.runs[name] = log_variant(source, world.params, model_dir)
    world.register("champion")
    with world.registry() as registry:
        registry.promote()
    return world


@contextmanager
def serving(world: World) -> Iterator[str]:
    """`mlship serve` of the registry's champion and challenger aliases on loopback."""
    env = {
        **world.env,
        "MLSHIP_CHAMPION": f"models:/{MODEL_NAME}@champion",
        "MLSHIP_CHALLENGER": f"models:/{MODEL_NAME}@challenger",
        "MLSHIP_MLFLOW_DIR": str(world.root / "mlruns"),
    }
    with serving_helpers.live_service(env, world.root, timeout=120) as url:
        yield url


class Traffic:
    """Background clients posting held-out rows in batches, each request with its own key."""

    def __init__(self, url: str, rows: list[dict[str, Any]], clients: int = 4, batch: int = 10):
        self.url = url
        self.rows = rows
        self.clients = clients
        self.batch = batch
        self.stop = threading.Event()
        self.answered: Counter[tuple[int, str]] = Counter()
        self.lock = threading.Lock()
        self.threads = [
            threading.Thread(target=self._client, args=(seed,), daemon=True)
            for seed in range(clients)
        ]

    def _client(self, seed: int) -> None:
        pick = random.Random(seed)  # nosec B311 - traffic shaping, not security
        with httpx.Client(base_url=self.url, timeout=30) as client:
            while not self.stop.is_set():
                body = {"records": pick.sample(self.rows, self.batch)}
                headers = {"X-Request-Key": uuid.uuid4().hex}
                try:
                    response = client.post("/predict", json=body, headers=headers)
                except httpx.TransportError:
                    continue
                role = "-"
                if response.status_code == 200:
                    role = str(response.json().get("model_role"))
                with self.lock:
                    self.answered[(response.status_code, role)] += 1

    def __enter__(self) -> Traffic:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=60)


def held_out_rows(trained: tuple[Path, Params]) -> list[dict[str, Any]]:
    """The held-out rows as JSON records."""
    root, params = trained
    frame = pd.read_parquet(root / params.paths.split_dir / "test.parquet")
    rows: list[dict[str, Any]] = serving_helpers.records(frame, params.data.features)
    return rows
