"""`mlship rollout` against a real `mlship serve` and a real MLflow registry, under live traffic.

System tier: trains five real models, logs and registers them, starts the service on loopback and
drives held-out rows at it while the controller steps the canary (10 -> 50 -> 100 %).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from rollout_support import (
    ADMIN_TOKEN,
    Traffic,
    World,
    held_out_rows,
    make_world,
    mlship,
    serving,
)

from mlship.config import Params

pytestmark = pytest.mark.system

FAST_POLICY = (
    "--steps",
    "10,50,100",
    "--window",
    "1",
    "--max-window",
    "30",
    "--min-requests",
    "60",  # a p95 over fewer requests per step is too noisy to compare
)


@pytest.fixture(scope="module")
def world(trained_project: tuple[Path, Params], tmp_path_factory: pytest.TempPathFactory) -> World:
    """A registry with champion version 1 and every other variant logged, not registered."""
    return make_world(trained_project, tmp_path_factory.mktemp("rollout"))


@pytest.fixture(scope="module")
def service(world: World) -> Iterator[str]:
    """The live service, serving the registry's champion and challenger aliases."""
    with serving(world) as url:
        yield url


@pytest.fixture(scope="module")
def rows(trained_project: tuple[Path, Params]) -> list[dict[str, Any]]:
    """Held-out rows to send as traffic."""
    return held_out_rows(trained_project)


def _rollout(world: World, url: str, rows: list[dict[str, Any]]) -> tuple[int, str, Traffic]:
    with Traffic(url, rows) as traffic:
        proc = world.cli("rollout", "start", "--url", url, *FAST_POLICY)
    return proc.returncode, proc.stdout + proc.stderr, traffic


def _model(url: str) -> dict[str, Any]:
    payload: dict[str, Any] = httpx.get(f"{url}/model", timeout=10).json()
    return payload


def _rollout_runs(world: World) -> list[Any]:
    # pylint: disable=import-outside-toplevel
    from mlflow import MlflowClient

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        client = MlflowClient(tracking_uri=world.env["MLFLOW_TRACKING_URI"])
        experiment = client.get_experiment_by_name("mlship-rollouts")
        assert experiment is not None
        return list(
            client.search_runs([experiment.experiment_id], order_by=["attributes.start_time DESC"])
        )


def _assert_rolled_back(world: World, url: str, champion: str, challenger: str) -> None:
    assert world.aliases() == {"champion": champion}, "champion kept, challenger alias cleared"
    described = _model(url)
    assert described["champion"]["version"] == champion
    assert described["challenger"] is None
    assert described["traffic"]["challenger_percent"] == 0.0
    latest = _rollout_runs(world)[0]
    assert latest.data.tags["mlship.decision"] == "rolled_back"
    assert latest.data.params["challenger_version"] == challenger
    assert latest.data.metrics["breached"] == 1.0


@pytest.mark.parametrize(
    ("variant", "breach"),
    [
        ("erroring", "error rate"),
        ("slow", "p95 latency"),
        ("shifted", "prediction PSI"),
    ],
)
def test_faulty_challenger_is_rolled_back_and_the_champion_keeps_serving(
    world: World, service: str, rows: list[dict[str, Any]], variant: str, breach: str
) -> None:
    champion = world.aliases()["champion"]
    challenger = world.register(variant)
    code, output, traffic = _rollout(world, service, rows)
    assert code == 9, output
    assert f"decision: ROLL BACK version {challenger}" in output
    assert breach in output.split("decision: ROLL BACK")[1], output
    _assert_rolled_back(world, service, champion, challenger)
    served = sum(n for (status, role), n in traffic.answered.items() if status == 200)
    assert served > 0
    after = httpx.post(f"{service}/predict", json=rows[0], timeout=10)
    assert after.status_code == 200 and after.json()["model_version"] == champion


def test_good_challenger_is_promoted_after_every_step_passes(
    world: World, service: str, rows: list[dict[str, Any]]
) -> None:
    before = world.aliases()["champion"]
    challenger = world.register("good")
    code, output, traffic = _rollout(world, service, rows)
    assert code == 0, output
    assert output.count("-> pass") == 3, output
    assert f"decision: PROMOTE version {challenger} to champion" in output
    assert world.aliases() == {"champion": challenger}
    described = _model(service)
    assert described["champion"]["version"] == challenger
    assert described["challenger"] is None
    history = world.history()
    assert history[-1]["action"] == "promote"
    assert (history[-1]["version"], history[-1]["previous"]) == (challenger, before)
    run = _rollout_runs(world)[0]
    assert run.data.tags["mlship.decision"] == "promoted"
    assert run.data.metrics["step"] == 3.0
    assert traffic.answered[(200, "challenger")] > 0
    table = world.cli("registry", "status").stdout
    assert f"promote  -> version {challenger} (champion before: {before})" in table


def test_revert_puts_the_previous_champion_back_and_status_shows_it(
    world: World, service: str
) -> None:
    history = world.history()
    assert history[-1]["action"] == "promote", "runs after the promotion test"
    current, previous = history[-1]["version"], history[-1]["previous"]
    proc = world.cli("rollout", "revert", "--url", service)
    assert proc.returncode == 0, proc.stderr
    assert f"champion is version {previous} again" in proc.stdout
    assert world.aliases()["champion"] == previous
    assert _model(service)["champion"]["version"] == previous
    table = world.cli("registry", "status").stdout
    assert f"rollback -> version {previous} (champion before: {current})" in table


def test_rollout_without_a_challenger_fails_with_one_clear_line(world: World, service: str) -> None:
    assert "challenger" not in world.aliases()
    proc = world.cli("rollout", "start", "--url", service, *FAST_POLICY)
    assert proc.returncode == 8
    assert proc.stderr.strip().splitlines() == [
        "mlship rollout: error: registry: 'churn' has no challenger to roll out"
    ]


def test_wrong_admin_token_stops_the_rollout_before_any_change(world: World, service: str) -> None:
    champion = world.aliases()["champion"]
    challenger = world.register("good")
    env = {**world.env, "MLSHIP_ADMIN_TOKEN": ADMIN_TOKEN + "-wrong"}
    proc = mlship("rollout", "start", "--url", service, *FAST_POLICY, cwd=world.root, env=env)
    assert proc.returncode == 8
    assert "HTTP 403" in proc.stderr
    assert world.aliases() == {"champion": champion, "challenger": challenger}
    with world.registry() as registry:
        assert registry.clear_challenger() == challenger


def _corrupt_artifact(world: World, version: str) -> None:
    """Overwrite a registered version's model file in the artifact store with junk."""
    # pylint: disable=import-outside-toplevel
    from urllib.parse import urlparse

    from mlflow import MlflowClient

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        client = MlflowClient(tracking_uri=world.env["MLFLOW_TRACKING_URI"])
        source = client.get_model_version("churn", version).source
        logged = client.get_logged_model(source.removeprefix("models:/"))
    files = list(Path(urlparse(logged.artifact_location).path).rglob("model.skops"))
    assert files, logged.artifact_location
    for path in files:
        path.write_bytes(b"PK\x03\x04 corrupt")


def test_an_unloadable_challenger_is_a_breach_and_a_fresh_service_serves_the_champion(
    world: World, service: str, rows: list[dict[str, Any]]
) -> None:
    champion = world.aliases()["champion"]
    challenger = world.register("good")
    _corrupt_artifact(world, challenger)
    with serving(world) as fresh:  # a new replica while the broken alias is set
        described = _model(fresh)
        assert described["champion"]["version"] == champion
        assert described["challenger"] is None and described["challenger_error"]
    code, output, traffic = _rollout(world, service, rows)
    assert code == 9, output
    assert f"challenger version {challenger} cannot be loaded" in output
    assert "Traceback" not in output
    _assert_rolled_back(world, service, champion, challenger)
    assert not [key for key in traffic.answered if key[0] >= 500]
