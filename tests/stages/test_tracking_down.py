"""MLflow down or interrupted: one line and exit 7 quickly, old outputs kept, no RUNNING run."""

from __future__ import annotations

import hashlib
import os
import signal
import time
import warnings
from pathlib import Path

import pytest
import yaml

from mlship.errors import ExitCode
from mlship.registry import cli as registry_cli
from mlship.stages import evaluate
from mlship.tracking import MLFLOW_HTTP_DEFAULTS, terminate_as_interrupt

CLOSED = "http://127.0.0.1:9"


def _track(root: Path) -> None:
    raw = yaml.safe_load((root / "params.yaml").read_text(encoding="utf-8"))
    raw["tracking"]["enabled"] = True
    (root / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")


def _digests(root: Path) -> dict[str, str]:
    """Every evaluate output, by content."""
    found = {}
    for top in ("metrics.json", "plots", "artifacts/eval"):
        path = root / top
        for file in [path] if path.is_file() else sorted(path.rglob("*")):
            if file.is_file():
                found[str(file.relative_to(root))] = hashlib.sha256(file.read_bytes()).hexdigest()
    return found


@pytest.fixture(name="mlflow_down")
def _mlflow_down(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", CLOSED)
    for name in MLFLOW_HTTP_DEFAULTS:
        monkeypatch.delenv(name, raising=False)


@pytest.mark.usefixtures("mlflow_down")
def test_evaluate_with_mlflow_down_fails_fast_in_one_line_and_keeps_its_outputs(
    project_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _track(project_copy)
    (project_copy / "plots" / "stale-marker.txt").write_text("from the last run\n")
    before = _digests(project_copy)
    started = time.monotonic()
    assert evaluate.main([]) == ExitCode.MLFLOW
    assert time.monotonic() - started < 30
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        f"mlship evaluate: error: MLflow tracking server {CLOSED} cannot be reached; start it, "
        "fix MLFLOW_TRACKING_URI, or unset it for the embedded store"
    ]
    assert _digests(project_copy) == before
    assert not [p for p in project_copy.rglob("*.tmp")]


@pytest.mark.usefixtures("mlflow_down")
def test_registry_register_with_mlflow_down_is_one_line_and_exit_7(
    project_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert project_copy.is_dir()
    started = time.monotonic()
    assert registry_cli.main(["register"]) == ExitCode.MLFLOW == 7
    assert time.monotonic() - started < 30
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and CLOSED in lines[0]


def test_mlflow_http_defaults_leave_a_users_own_settings_alone(
    project_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlship.tracking import tracking_uri  # pylint: disable=import-outside-toplevel

    monkeypatch.setenv("MLFLOW_TRACKING_URI", CLOSED)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "5")
    monkeypatch.delenv("MLFLOW_HTTP_REQUEST_TIMEOUT", raising=False)
    tracking_uri(project_copy / "mlruns")
    assert os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == "5"
    assert (
        os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"]
        == MLFLOW_HTTP_DEFAULTS["MLFLOW_HTTP_REQUEST_TIMEOUT"]
    )


def test_an_interrupted_evaluate_ends_its_run_failed_and_keeps_its_outputs(
    project_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow.sklearn  # pylint: disable=import-outside-toplevel
    from mlflow import MlflowClient  # pylint: disable=import-outside-toplevel

    _track(project_copy)
    before = _digests(project_copy)

    def interrupted(*_: object, **__: object) -> None:
        raise KeyboardInterrupt  # what Ctrl-C (or SIGTERM, below) does mid-upload

    monkeypatch.setattr(mlflow.sklearn, "log_model", interrupted)
    with pytest.raises(KeyboardInterrupt), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        evaluate.main([])
    assert _digests(project_copy) == before
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        client = MlflowClient()
        raw = yaml.safe_load((project_copy / "params.yaml").read_text(encoding="utf-8"))
        experiment = client.get_experiment_by_name(raw["tracking"]["experiment"])
        assert experiment is not None
        statuses = [r.info.status for r in client.search_runs([experiment.experiment_id])]
    assert statuses and "RUNNING" not in statuses and statuses[0] == "FAILED"


def test_sigterm_inside_a_tracked_block_unwinds_like_ctrl_c() -> None:
    with pytest.raises(KeyboardInterrupt), terminate_as_interrupt():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
