"""The error tree: every class in mlship/errors.py, one meaning per exit code, README in step."""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

import mlship
from mlship import errors
from mlship.errors import ExitCode, MlshipError

README = Path(__file__).resolve().parents[1] / "README.md"


def _every_error_class() -> set[type[MlshipError]]:
    for module in pkgutil.walk_packages(mlship.__path__, "mlship."):
        importlib.import_module(module.name)
    found: set[type[MlshipError]] = set()
    pending = [MlshipError]
    while pending:
        cls = pending.pop()
        found.add(cls)
        pending.extend(cls.__subclasses__())
    return found


def test_every_error_class_lives_in_errors_py() -> None:
    elsewhere = sorted(
        f"{cls.__module__}.{cls.__qualname__}"
        for cls in _every_error_class()
        if cls.__module__ != errors.__name__
    )

    assert not elsewhere, f"move these into mlship/errors.py: {elsewhere}"


def test_each_exit_code_is_declared_by_one_error_class() -> None:
    declared: dict[int, list[str]] = {}
    for cls in _every_error_class():
        if "exit_code" in vars(cls):
            declared.setdefault(int(vars(cls)["exit_code"]), []).append(cls.__name__)

    shared = {code: names for code, names in declared.items() if len(names) > 1}
    assert not shared, f"exit codes meaning several things: {shared}"
    assert set(declared) == set(ExitCode) - {ExitCode.OK}, "an exit code no error class raises"


def test_readme_table_lists_every_exit_code_once_in_order() -> None:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| (\d+) \| (.+) \|$", section, flags=re.MULTILINE)

    assert [int(code) for code, _ in rows] == [int(code) for code in ExitCode]
    assert all(meaning.strip() for _, meaning in rows)
