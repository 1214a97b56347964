"""The `mlship` command: help for every subcommand, clear errors for unknown ones."""

from __future__ import annotations

import subprocess  # nosec B404 - runs this package's own entry point
import sys
from pathlib import Path

import pytest

from mlship.cli import COMMANDS, main


def test_no_arguments_prints_usage_listing_every_command(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main([]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: mlship <command>")
    for name, (_, help_) in COMMANDS.items():
        assert f"  {name}" in out and help_ in out


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_subcommand_has_help(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([name, "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert f"usage: mlship {name}" in out


def test_unknown_command_exits_2_and_lists_the_commands(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["trian"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mlship: unknown command 'trian'")
    assert "  train" in err


def test_unknown_option_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["split", "--frobnicate"])
    assert exited.value.code == 2
    assert "unrecognized arguments: --frobnicate" in capsys.readouterr().err


def test_stage_error_becomes_one_line_and_its_exit_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "params.yaml"
    assert main(["validate", "--params", str(missing)]) == 2
    err = capsys.readouterr().err
    expected = f"mlship validate: error: {missing}: cannot read params file"
    assert err == f"{expected} (No such file or directory)\n"


def test_module_entry_point_runs_as_a_program() -> None:
    result = subprocess.run(  # nosec B603 - fixed arguments, no shell
        [sys.executable, "-m", "mlship.cli", "--help"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0
    assert "usage: mlship <command>" in result.stdout
