"""Every test is in one tier, and the fast tier cannot start what only the system tier has."""

from __future__ import annotations

import subprocess  # nosec B404
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import tiers
from live_process import mlflow_server
from path_import import import_file

REPO = Path(__file__).resolve().parents[1]
container_engine = import_file(
    "mlship_container_engine", REPO / "tests" / "container" / "container_engine.py"
)
act_harness = import_file("mlship_act_harness", REPO / "tests" / "workflows" / "act_harness.py")
registry_helpers = import_file(
    "mlship_registry_helpers", REPO / "tests" / "registry" / "registry_helpers.py"
)


def test_every_selected_test_is_in_exactly_one_tier(request: pytest.FixtureRequest) -> None:
    for item in request.session.items:
        marked = [mark.name for mark in item.iter_markers() if mark.name in tiers.TIERS]
        assert len(marked) == 1, (item.nodeid, marked)


SYSTEM_HELPERS: dict[str, Callable[[Path], object]] = {
    "act": lambda tmp: act_harness.Scenario(tmp, tmp, tmp).act("push", "ci.yml", {}),
    "a container engine": lambda _: container_engine.engine(),
    "an MLflow server": lambda tmp: mlflow_server(f"sqlite:///{tmp}/db", tmp).__enter__(),
    "a PostgreSQL server": lambda _: registry_helpers.postgres_database().__enter__(),
}


@pytest.mark.parametrize("what", sorted(SYSTEM_HELPERS))
def test_a_fast_test_cannot_start_a_system_tool(what: str, tmp_path: Path) -> None:
    with pytest.raises(AssertionError, match=f"^{what} belongs to the system tier: mark the test"):
        SYSTEM_HELPERS[what](tmp_path)


def test_a_tier_that_selects_no_test_fails(tmp_path: Path) -> None:
    venv = Path(sys.executable).parent.parent
    command = ["make", "--no-print-directory", "-o", f"{venv}/.installed", f"VENV={venv}"]
    args = f"PYTEST_ARGS=tests/config -p no:cacheprovider --basetemp={tmp_path}/t"
    result = subprocess.run(
        [*command, "test-system", args], cwd=REPO, capture_output=True, text=True, check=False
    )  # nosec B603 B607
    assert result.returncode != 0, result.stdout
    assert "deselected" in result.stdout, result.stdout
