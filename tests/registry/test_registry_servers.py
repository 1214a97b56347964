"""The registry CLI against a real `mlflow server`: SQLite backend, then PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import make_project, project_params
from live_process import mlflow_server
from registry_helpers import log_runs, postgres_database

from mlship.config import Params
from mlship.registry.cli import main

pytestmark = pytest.mark.system


def _round_trip(
    url: str,
    trained_project: tuple[Path, Params],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> dict[str, object]:
    """Log and register a run twice, promoting each, then roll back; return status JSON."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
    root, params = trained_project
    make_project(tmp_path, project_params({"registry": {"model_name": "churn-server"}}))
    args = ["--params", str(tmp_path / "params.yaml")]
    for action in ("register", "promote", "register", "promote", "rollback"):
        if action == "register":
            log_runs(root, params, 1)  # a new latest run, as after `make repro`
        assert main([*args, action]) == 0, capsys.readouterr().err
    capsys.readouterr()
    assert main([*args, "status", "--json"]) == 0
    status: dict[str, object] = json.loads(capsys.readouterr().out)
    return status


def _assert_rolled_back(status: dict[str, object]) -> None:
    versions = {row["version"]: row for row in status["versions"]}  # type: ignore[attr-defined]
    assert versions["1"]["aliases"] == ["champion"]
    assert versions["2"]["aliases"] == []
    history = [(e["action"], e["version"]) for e in status["history"]]  # type: ignore[attr-defined]
    assert history == [("promote", "1"), ("promote", "2"), ("rollback", "1")]


def test_registry_round_trip_against_an_mlflow_server(
    trained_project: tuple[Path, Params],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    backend = f"sqlite:///{tmp_path / 'server.db'}"
    with mlflow_server(backend, tmp_path) as url:
        status = _round_trip(url, trained_project, tmp_path / "project", monkeypatch, capsys)
    _assert_rolled_back(status)


def test_registry_round_trip_on_a_postgresql_backend(
    trained_project: tuple[Path, Params],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with postgres_database() as database, mlflow_server(database, tmp_path) as url:
        status = _round_trip(url, trained_project, tmp_path / "project", monkeypatch, capsys)
    _assert_rolled_back(status)
