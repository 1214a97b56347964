"""Every test is in one tier, and the fast tier cannot start what only the system tier has."""

from __future__ import annotations

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


# Each tier given only tests of the other. test-fast runs pytest-xdist workers, whose run of no
# test must fail as one process's does; xdist says "no tests ran" instead of "N deselected".
@pytest.mark.heavy  # two pytest runs under make, one with xdist workers: handed out first
@pytest.mark.parametrize(
    ("target", "other_tier", "says"),
    [
        ("test-system", "tests/config", "deselected"),
        ("test-fast", "tests/workflows/test_cache_standin.py", "no tests ran"),
    ],
)
def test_a_tier_that_selects_no_test_fails(
    target: str, other_tier: str, says: str, tmp_path: Path
) -> None:
    args = f"PYTEST_ARGS={other_tier} -p no:cacheprovider --basetemp={tmp_path}/t"
    result = tiers.make_tier(target, args)
    assert result.returncode != 0, result.stdout
    assert f"{target}] Error 5" in result.stderr, result.stderr  # pytest's "no tests collected"
    assert says in result.stdout, result.stdout
