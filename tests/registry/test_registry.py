"""The registry on the embedded SQLite store: register, promote, rollback, status, serve."""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import make_project, project_params
from fastapi.testclient import TestClient
from mlflow import MlflowClient
from registry_helpers import log_runs

from mlship.config import Params
from mlship.errors import ParamsError, RegistryError
from mlship.registry import CHALLENGER, CHAMPION, Registry
from mlship.registry.cli import main
from mlship.registry.core import champion_stack
from mlship.serving.app import create_app
from mlship.serving.settings import ServeSettings

_names = (f"model-{i}" for i in itertools.count())


@pytest.fixture(scope="module", name="store")
def _store(
    trained_project: tuple[Path, Params], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, list[str]]]:
    """One SQLite tracking store holding two logged runs, shared by this module's tests."""
    uri = f"sqlite:///{tmp_path_factory.mktemp('registry') / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", uri)
        root, params = trained_project
        yield uri, log_runs(root, params, 2)


@pytest.fixture(name="registry")
def _registry(store: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch) -> Registry:
    uri = store[0]
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return Registry(MlflowClient(tracking_uri=uri, registry_uri=uri), next(_names))


def test_register_tags_lineage_and_metrics_and_sets_challenger(
    registry: Registry, store: tuple[str, list[str]]
) -> None:
    run_id = store[1][0]
    version = registry.register(run_id)
    assert registry.version_for(CHALLENGER) == version == "1"
    assert registry.version_for(CHAMPION) is None
    tags = registry.client.get_model_version(registry.name, version).tags
    run = registry.client.get_run(run_id)
    assert tags["git_sha"] == run.data.tags["mlship.git_commit"]
    assert tags["data_hash"] == run.data.tags["mlship.data_md5"] != "unknown"
    assert len(tags["params_hash"]) == 64
    assert float(tags["metric.roc_auc"]) == pytest.approx(0.70)


def test_promote_moves_champion_records_history_and_clears_challenger(
    registry: Registry, store: tuple[str, list[str]]
) -> None:
    first = registry.register(store[1][0])
    assert registry.promote() == first
    second = registry.register(store[1][1])
    assert registry.promote() == second
    assert registry.version_for(CHAMPION) == second
    assert registry.version_for(CHALLENGER) is None
    history = registry.history()
    assert [(e["action"], e["version"], e["previous"]) for e in history] == [
        ("promote", first, None),
        ("promote", second, first),
    ]
    rows = {row.version: row for row in registry.status()}
    assert rows[second].aliases == (CHAMPION,) and rows[second].promoted_at
    assert rows[first].aliases == ()


def test_rollback_returns_to_each_previous_champion_in_turn(
    registry: Registry, store: tuple[str, list[str]]
) -> None:
    versions = []
    for run_id in [*store[1], store[1][0]]:
        versions.append(registry.register(run_id))
        registry.promote()
    assert registry.rollback() == versions[1]
    assert registry.version_for(CHAMPION) == versions[1]
    assert registry.rollback() == versions[0]
    with pytest.raises(RegistryError, match="no previous champion"):
        registry.rollback()
    assert registry.version_for(CHAMPION) == versions[0]
    assert champion_stack(registry.history()) == [versions[0]]


def test_promote_without_a_challenger_is_a_registry_error(registry: Registry) -> None:
    with pytest.raises(RegistryError, match="no 'challenger' to promote"):
        registry.promote()
    with pytest.raises(RegistryError, match="no 'champion' to roll back"):
        registry.rollback()
    assert registry.status() == []


def _cli_project(tmp_path: Path, name: str) -> Path:
    make_project(tmp_path, project_params({"registry": {"model_name": name}}))
    return tmp_path / "params.yaml"


def test_cli_register_promote_rollback_and_status_table(
    registry: Registry,
    trained_project: tuple[Path, Params],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    params = ["--params", str(_cli_project(tmp_path, registry.name))]
    root, project = trained_project
    for action in ("register", "promote", "register", "promote", "rollback", "register"):
        if action == "register":
            log_runs(root, project, 1, auc=0.71)  # the latest run, as after `make repro`
        assert main([*params, action]) == 0
    assert main([*params, "register"]) == 0  # that run again: nothing new
    out = capsys.readouterr().out
    assert "is already" in out and "version 3; nothing to do" in out
    assert main([*params, "status"]) == 0
    out = capsys.readouterr().out
    assert "registered churn" not in out and f"registered model {registry.name}" in out
    table = out.split("promotion history:")[0]
    lines = {line.split()[0]: line for line in table.splitlines() if line[:1].isdigit()}
    assert set(lines) == {"1", "2", "3"}
    assert "champion" in lines["1"] and "challenger" in lines["3"]
    assert "0.7100" in lines["3"]  # the latest run's roc_auc, a key metric in params.yaml
    history = out.split("promotion history:")[1]
    assert history.count("promote") == 2 and history.count("rollback") == 1


def test_cli_registers_from_the_embedded_store_when_no_tracking_uri_is_set(
    trained_project: tuple[Path, Params], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, params = trained_project
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    make_project(tmp_path, project_params({"tracking": {"enabled": True}}))
    for output in (params.paths.split_dir, params.paths.model_dir, params.paths.plots_dir):
        shutil.copytree(root / output, tmp_path / output)
    # Fresh processes, as `make repro` then `make train-register` run them.
    for command in (["mlship.stages.evaluate"], ["mlship.cli", "registry", "register"]):
        result = subprocess.run(
            [sys.executable, "-m", *command],
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
        assert result.returncode == 0, result.stderr
    assert "registered churn version 1 from run " in result.stdout
    assert (tmp_path / params.paths.mlflow_dir / "mlflow.db").is_file()


def test_cli_failure_prints_one_line_and_exits_with_the_registry_code(
    registry: Registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    params = ["--params", str(_cli_project(tmp_path, registry.name))]
    assert main([*params, "promote"]) == RegistryError.exit_code
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "has no 'challenger' to promote" in err
    assert main([*params, "register", "--run-id", "0" * 32]) == RegistryError.exit_code


def test_service_serves_the_champion_alias_and_follows_a_promotion_on_reload(
    registry: Registry,
    store: tuple[str, list[str]],
    trained_project: tuple[Path, Params],
) -> None:
    root, params = trained_project
    registry.register(store[1][0])
    registry.promote()
    local = ServeSettings(champion=str(root / params.paths.model_dir))
    remote = ServeSettings(
        champion=f"models:/{registry.name}@champion",
        challenger=f"models:/{registry.name}@challenger",
        admin_token="t",
    )
    meta = json.loads((root / params.paths.model_dir / "model.json").read_text())
    rows = meta["input_example"]
    # One request key for both: the answers' request ids then match too.
    key = {"X-Request-Key": "same-rows"}
    with TestClient(create_app(local)) as client:
        expected = client.post("/predict", json={"records": rows}, headers=key).json()[
            "predictions"
        ]
    with TestClient(create_app(remote)) as client:
        described = client.get("/model").json()
        assert described["champion"]["version"] == "1"
        assert described["challenger"] is None  # alias unset: no challenger, not an error
        answer = client.post("/predict", json={"records": rows}, headers=key).json()
        assert answer["model_version"] == "1"
        assert answer["predictions"] == expected
        registry.register(store[1][1])
        headers = {"Authorization": "Bearer t"}
        reloaded = client.post("/admin/reload", headers=headers).json()
        assert reloaded["challenger"]["version"] == "2"
        registry.promote()
        reloaded = client.post("/admin/reload", headers=headers).json()
        assert reloaded["champion"]["version"] == "2" and reloaded["challenger"] is None
        assert client.post("/predict", json=rows[0]).json()["model_version"] == "2"


def test_an_unsupported_tracking_uri_is_one_line_naming_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "htpp://mlflow.internal:5000")
    params = ["--params", str(_cli_project(tmp_path, "churn"))]
    assert main([*params, "status"]) == ParamsError.exit_code
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "MLFLOW_TRACKING_URI='htpp://mlflow.internal:5000'" in err and "'htpp'" in err
