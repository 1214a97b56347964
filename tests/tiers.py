"""The two test tiers, and the guard that keeps system helpers out of the fast tier.

fast    needs nothing but Python and the project's own processes on loopback: no root, no
        container engine, no act, no database or MLflow server (`make test-fast`).
system  act workflows, the image build, live rollouts, the PostgreSQL and MLflow servers, and
        load tests that run for a fixed time (`make system-deps` once, with privileges, then
        `make test-system`).

tests/conftest.py puts every test in exactly one tier and records the running test's tier here;
each helper that starts a system tool calls `require_system` first, so a test that needs one but
is not marked `system` fails in either tier, naming the marker.
"""

from __future__ import annotations

import os
import subprocess  # nosec B404
import sys
from pathlib import Path

FAST = "fast"
SYSTEM = "system"
TIERS = (FAST, SYSTEM)

# The tier of the test being set up or run; None outside pytest (helpers run as scripts).
running: str | None = None


def require_system(what: str) -> None:
    """Fail unless the running test is in the system tier; `what` names the system tool."""
    if running is not None and running != SYSTEM:
        raise AssertionError(
            f"{what} belongs to the system tier: mark the test `@pytest.mark.system` "
            "(it then runs in `make test-system`, not `make test-fast`)"
        )


def make_tier(target: str, *variables: str) -> subprocess.CompletedProcess[str]:
    """`make <target>` (a tier's target) in this run's virtualenv, from the repository root.

    Without this run's TEST_SHARD: a CI job's part of the fast tier must not cut the nested
    run's selection, which is what `variables` (e.g. PYTEST_ARGS=...) say and nothing else.
    """
    venv = Path(sys.executable).parent.parent
    command = ["make", "--no-print-directory", "-o", f"{venv}/.installed", f"VENV={venv}"]
    return subprocess.run(  # nosec B603 B607
        [*command, target, *variables],
        cwd=Path(__file__).resolve().parents[1],
        env={k: v for k, v in os.environ.items() if k != "TEST_SHARD"},
        capture_output=True,
        text=True,
        check=False,
    )
