"""The README documents every make target that `make help` lists, and no target that is gone."""

from __future__ import annotations

import re

from e2e_repo import REPO

HELP_LINE = re.compile(r"^([a-zA-Z0-9_-]+):.*## ", re.MULTILINE)
README_ROW = re.compile(r"^\| `([a-zA-Z0-9_-]+)` \|", re.MULTILINE)


def test_readme_lists_exactly_the_make_targets_in_make_help() -> None:
    targets = set(HELP_LINE.findall((REPO / "Makefile").read_text(encoding="utf-8")))
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Make targets", 1)[1].split("\n## ", 1)[0]
    documented = set(README_ROW.findall(section))
    assert sorted(targets - documented) == [], "make targets missing from README.md"
    assert sorted(documented - targets) == [], "README.md documents targets that do not exist"


def test_readme_gives_the_two_commands_and_the_mlflow_ui_command() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "make pipeline" in readme and "make test" in readme
    assert "mlflow ui --backend-store-uri sqlite:///mlruns/mlflow.db" in readme
