"""`mlship preprod` against a real `mlship serve` on loopback: the release's staging checks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from live_process import free_port
from path_import import import_file

from mlship.config import Params
from mlship.errors import ExitCode
from mlship.preprod.cli import main

support = import_file(
    "mlship_rollout_support", Path(__file__).resolve().parents[1] / "rollout/rollout_support.py"
)


def _serve(model_dir: Path, cwd: Path) -> Iterator[str]:
    with support.serving_helpers.live_service({"MLSHIP_CHAMPION": str(model_dir)}, cwd) as url:
        yield url


@pytest.fixture(scope="module", name="pipeline_service")
def _pipeline_service(
    trained_project: tuple[Path, Params], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The service on the model the pipeline built (what the image bakes in)."""
    root, params = trained_project
    yield from _serve(root / params.paths.model_dir, tmp_path_factory.mktemp("serve"))


@pytest.fixture(scope="module", name="other_service")
def _other_service(
    trained_project: tuple[Path, Params], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A service on another model than the one whose predictions the pipeline wrote."""
    root, params = trained_project
    work = tmp_path_factory.mktemp("other")
    model = support.train_variant(root, params, "good", work / "model")
    yield from _serve(model, work)


@pytest.fixture(name="in_trained")
def _in_trained(trained_project: tuple[Path, Params], monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(trained_project[0])
    return trained_project[0]


@pytest.mark.parametrize(
    "check",
    [
        ["readiness"],
        ["parity"],
        ["load", "--requests", "60", "--concurrency", "2", "--p99-ms", "60000"],
        ["fuzz", "--max-examples", "5"],
    ],
    ids=lambda check: check[0],
)
def test_each_check_passes_on_the_service_of_the_pipelines_own_model(
    in_trained: Path, pipeline_service: str, check: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*check, "--url", pipeline_service]) == ExitCode.OK
    out = capsys.readouterr().out
    assert f"preprod {check[0]}: pass" in out


def test_parity_fails_when_the_service_predicts_otherwise_than_its_pipeline(
    in_trained: Path, other_service: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["parity", "--url", other_service]) == ExitCode.PREPROD_FAILED
    err = capsys.readouterr().err.strip()
    assert "preprod parity: FAIL: 600 held-out rows, " in err
    assert " 0 differ" not in err


def test_a_load_budget_the_service_cannot_meet_fails_naming_it(
    in_trained: Path, pipeline_service: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["load", "--url", pipeline_service, "--requests", "20", "--p99-ms", "0"])
    assert code == ExitCode.PREPROD_FAILED
    assert "preprod load: FAIL: 20 requests at concurrency 4: error rate 0.00%" in (
        capsys.readouterr().err
    )


def test_readiness_fails_within_its_timeout_when_nothing_answers(
    in_trained: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    assert main(["readiness", "--url", url, "--ready-timeout", "2"]) == ExitCode.PREPROD_FAILED
    assert "preprod readiness: FAIL: /ready not 200 within 2s: ConnectError" in (
        capsys.readouterr().err
    )


def test_a_url_without_scheme_is_a_params_error(
    in_trained: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["parity", "--url", "staging:8000"]) == ExitCode.PARAMS
    assert "must start with http(s)://" in capsys.readouterr().err
