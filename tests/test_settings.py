"""The commands' environment variables: typed once, a bad value named, README's table in step."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlship.errors import ExitCode, ParamsError
from mlship.retrain import cli as retrain_cli
from mlship.settings import (
    GateSettings,
    GitHubSettings,
    PreprodSettings,
    RecordSettings,
    ReportSettings,
    RetrainSettings,
    RolloutSettings,
    TrackingSettings,
    environment_table,
    read_settings,
)

README = Path(__file__).resolve().parents[1] / "README.md"
# README's table, in this order (the service's own settings are in docs/serving.md).
DOCUMENTED = (
    RolloutSettings,
    ReportSettings,
    RetrainSettings,
    RecordSettings,
    GateSettings,
    PreprodSettings,
    TrackingSettings,
    GitHubSettings,
)


def test_readme_lists_every_variable_with_its_type_default_and_meaning() -> None:
    expected = environment_table(*DOCUMENTED)
    assert expected in README.read_text(encoding="utf-8"), (
        "README.md's table of environment variables is out of date; paste:\n" + expected
    )


def test_a_bad_value_is_a_params_error_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MLSHIP_RECORD_SAMPLE_RATE", "often")

    with pytest.raises(ParamsError) as raised:
        read_settings(RecordSettings)

    assert str(raised.value).startswith("MLSHIP_RECORD_SAMPLE_RATE='often': ")
    assert raised.value.exit_code == ExitCode.PARAMS


def test_a_secret_is_named_but_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RETRAIN_FORCE", "sometimes")
    monkeypatch.setenv("MLSHIP_ADMIN_TOKEN", "s3cret")

    with pytest.raises(ParamsError, match="^RETRAIN_FORCE='sometimes': "):
        read_settings(RetrainSettings)
    settings = read_settings(RolloutSettings)

    assert settings.admin_token is not None
    assert "s3cret" not in repr(settings)


def test_an_empty_variable_counts_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RETRAIN_FORCE", "")
    monkeypatch.setenv("RETRAIN_MONTH", "")

    settings = read_settings(RetrainSettings)

    assert settings.force is False
    assert settings.month is None


def test_retrain_stops_with_exit_2_on_a_bad_retrain_force(
    in_project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RETRAIN_FORCE", "maybe")

    assert retrain_cli.main([]) == ExitCode.PARAMS
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("mlship retrain: error: RETRAIN_FORCE='maybe': ")
