"""The evaluate stage records its run in a real `mlflow server`, or in the embedded SQLite store."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from e2e_repo import BIN, run, tool_env
from live_process import mlflow_server
from mlflow.tracking import MlflowClient

from mlship.config import Params
from mlship.tracking import file_md5


@pytest.fixture(name="mlflow_server")
def _mlflow_server(tmp_path: Path) -> Iterator[str]:
    """A real MLflow server on 127.0.0.1 with a SQLite backend; stopped after the test."""
    with mlflow_server(f"sqlite:///{tmp_path / 'server.db'}", tmp_path) as url:
        yield url


def tracked_copy(trained_project: tuple[Path, Params], dest: Path) -> Path:
    """A private copy of the trained project with tracking on, as a git repo with one commit."""
    source, _ = trained_project
    shutil.copytree(source, dest)
    path = dest / "params.yaml"
    raw: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    raw["tracking"]["enabled"] = True
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    run(["git", "init", "--quiet"], dest)
    run(["git", "add", "params.yaml", "schema.yaml"], dest)
    run(["git", "commit", "--quiet", "--no-verify", "-m", "project"], dest)
    return dest


def evaluate(root: Path, env: dict[str, str]) -> str:
    """Run the evaluate stage as DVC would; return the MLflow run id it prints."""
    output = run([str(BIN / "python"), "-m", "mlship.stages.evaluate"], root, env).stdout
    lines = [line for line in output.splitlines() if line.startswith("MLflow run ")]
    assert len(lines) == 1, output
    return lines[0].removeprefix("MLflow run ").strip()


@pytest.mark.system
def test_evaluate_logs_a_complete_run_to_a_real_mlflow_server(
    mlflow_server: str, trained_project: tuple[Path, Params], tmp_path: Path
) -> None:
    root = tracked_copy(trained_project, tmp_path / "project")
    env = tool_env(root, MLFLOW_TRACKING_URI=mlflow_server)
    run_id = evaluate(root, env)

    client = MlflowClient(tracking_uri=mlflow_server)
    logged = client.get_run(run_id)
    metrics = json.loads((root / "metrics.json").read_text(encoding="utf-8"))
    meta = json.loads((root / "artifacts/model/model.json").read_text(encoding="utf-8"))
    head = run(["git", "rev-parse", "HEAD"], root).stdout.strip()

    assert client.get_experiment(logged.info.experiment_id).name == "mlship"
    assert logged.data.metrics["roc_auc"] == pytest.approx(metrics["roc_auc"], abs=1e-6)
    assert logged.data.params["train.model"] == "hist_gradient_boosting"
    assert logged.data.params["data.target"] == "churned"
    assert logged.data.tags["mlship.git_commit"] == head
    assert logged.data.tags["mlship.data_md5"] == meta["data_md5"]
    assert logged.data.tags["mlship.model_md5"] == file_md5(root / "artifacts/model/model.skops")
    plots = {Path(item.path).name for item in client.list_artifacts(run_id, "plots")}
    assert {"roc.png", "roc.csv", "importance.png", "confusion.csv"} <= plots

    [model] = client.search_logged_models(
        experiment_ids=[logged.info.experiment_id], filter_string=f"source_run_id = '{run_id}'"
    )
    import mlflow  # pylint: disable=import-outside-toplevel

    mlflow.set_tracking_uri(mlflow_server)
    info = mlflow.models.get_model_info(model.model_uri)
    assert info.signature is not None
    assert [spec.name for spec in info.signature.inputs] == meta["numeric"] + meta["categorical"]
    assert info.saved_input_example_info is not None


# MLflow's SQLite store uses an SQLAlchemy loader option that SQLAlchemy 2.1 deprecates.
@pytest.mark.filterwarnings(
    "ignore:The ``noload`` loader strategy is deprecated:DeprecationWarning"
)
def test_without_a_tracking_uri_the_run_lands_in_the_embedded_sqlite_store(
    trained_project: tuple[Path, Params], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    root = tracked_copy(trained_project, tmp_path / "project")
    env = tool_env(root)
    del env["MLFLOW_TRACKING_URI"]
    run_id = evaluate(root, env)

    store = root / "mlruns" / "mlflow.db"
    assert store.is_file()
    client = MlflowClient(tracking_uri=f"sqlite:///{store}")
    logged = client.get_run(run_id)
    assert logged.data.metrics["roc_auc"] > 0.7
    artifacts = Path(logged.info.artifact_uri.removeprefix("file://"))
    assert artifacts.is_relative_to(root / "mlruns" / "artifacts")
    assert (artifacts / "plots" / "roc.png").is_file()
