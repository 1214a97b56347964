"""`run_main`, the one entry-point wrapper: what a run's result or error turns into at the CLI."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from mlship.config import Params
from mlship.entry import run_main, stage_parser
from mlship.errors import RegistryError


@pytest.mark.usefixtures("in_project")
def test_run_main_turns_an_mlship_error_into_one_stderr_line_and_its_exit_code(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def run(_: Params, __: argparse.Namespace) -> None:
        raise RegistryError("no champion yet")

    assert run_main(stage_parser("demo", "A demo."), run, []) == RegistryError.exit_code
    captured = capsys.readouterr()
    assert captured.err == "mlship demo: error: no champion yet\n"
    assert captured.out == ""


def test_run_main_names_a_missing_params_file_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nowhere.yaml"
    argv = ["--params", str(missing)]
    assert run_main(stage_parser("demo", "A demo."), lambda *_: None, argv) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("mlship demo: error: ") and str(missing) in line


@pytest.mark.usefixtures("in_project")
@pytest.mark.parametrize(("result", "code"), [(None, 0), (1.5, 0), ({"auc": 0.9}, 0), (5, 5)])
def test_run_main_exits_with_an_int_the_run_returns_and_0_for_any_other_result(
    result: object, code: int
) -> None:
    assert run_main(stage_parser("demo", "A demo."), lambda *_: result, []) == code
