"""release.yml, rollback.yml and train.yml run under act against a real registry and service.

The "production" the workflows deploy to is a live `mlship serve` on loopback, loading
`models:/churn@champion` and `@challenger` from an MLflow registry (SQLite) that the test
prepared with real trained models, while held-out rows flow at it as traffic. The image is
built and smoke-tested for real with the system tier's container engine (docker, or podman
with the stand-in base image: tests/container); only the push to GHCR is a stand-in (a `PUSH`
command that records each reference and the image ID it names).

System tier: one release (pipeline, image build, smoke test, canary), one rollback, one training
run.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from act_harness import Scenario, create_repo, edit_yaml, git, make_act_venv
from path_import import import_file

from mlship.config import Params

pytestmark = pytest.mark.system

REPO = Path(__file__).resolve().parents[2]
TAG = "v1.2.0"
IMAGE = "localhost/mlship-serve:release-test"
GITHUB_TOKEN = "ghs_stand_in_token"  # nosec B105 - what the act harness gives every run
PUSH_RECORDER = """#!/bin/bash
# Stand-in for GHCR: `login REGISTRY --username U --password-stdin` records who logged in and
# how long the token was; `REF` (a push) records the reference and the local image it names.
set -euo pipefail
if [[ "$1" == login ]]; then
  token="$(cat)"
  printf '{"login": "%s", "user": "%s", "token_chars": %d}\\n' "$2" "$4" "${#token}" >> "$PUSH_LOG"
  exit 0
fi
id="$("$CONTAINER" image inspect --format '{{.Id}}' "$1")"
printf '{"ref": "%s", "id": "%s"}\\n' "$1" "$id" >> "$PUSH_LOG"
"""


support = import_file("mlship_rollout_support", REPO / "tests" / "rollout" / "rollout_support.py")
container_engine = import_file(
    "mlship_container_engine", REPO / "tests" / "container" / "container_engine.py"
)


def fast_rollout(params: dict[str, Any]) -> None:
    """The scenario's canary policy: short windows, as a team testing its pipeline would set."""
    params["generate"]["rows"] = 3000
    params["rollout"] = {
        **params.get("rollout", {}),
        "steps": [10, 50, 100],
        "window_seconds": 1,
        # As in tests/rollout: a p95 over fewer requests, on a machine busy with act and
        # podman, can roll back an equally fast challenger; a slow machine gets time to send them.
        "max_window_seconds": 120,
        "min_requests": 60,
        "p95_slack_ms": 50,
    }


@dataclass
class Production:
    """The registry and the live service the workflows deploy to."""

    world: Any
    url: str
    scenario: Scenario
    rows: list[dict[str, Any]]

    @property
    def secrets(self) -> dict[str, str]:
        """What the repository's `production` environment holds on GitHub."""
        return {
            "MLSHIP_DEPLOY_URL": self.url,
            "MLSHIP_ADMIN_TOKEN": support.ADMIN_TOKEN,
            "MLFLOW_TRACKING_URI": self.world.env["MLFLOW_TRACKING_URI"],
        }

    def served(self) -> dict[str, Any]:
        """The service's /model."""
        payload: dict[str, Any] = httpx.get(f"{self.url}/model", timeout=10).json()
        return payload


@pytest.fixture(scope="module")
def production(
    trained_project: tuple[Path, Params], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Production]:
    """Champion version 1 serving, version 2 (a good retrain) registered as challenger."""
    try:
        container_engine.engine()
    except container_engine.ContainerError as exc:
        pytest.fail(f"no container engine for the system tier: {exc}", pytrace=False)
    work = tmp_path_factory.mktemp("release")
    world = support.make_world(trained_project, work / "registry", ("champion", "good"))
    world.register("good")
    venv = make_act_venv(work / "venv")
    repo = create_repo(work / "repo", lambda root: edit_yaml(root / "params.yaml", fast_rollout))
    git(repo, "tag", TAG)
    scenario = Scenario(repo, work, venv)
    with support.serving(world) as url:
        yield Production(world, url, scenario, support.held_out_rows(trained_project))
    # The push-image target tagged the image with its GHCR names; those tags go, the image stays.
    listed = container_engine.run("images", "--format", "{{.Repository}}:{{.Tag}}")
    pushed = [ref for ref in listed.stdout.split() if ref.startswith("ghcr.io/acme/mlship:")]
    container_engine.remove_images(*pushed)


def _push_event(repo: Path, ref: str) -> dict[str, Any]:
    head = git(repo, "rev-parse", "HEAD")
    return {
        "ref": ref,
        "before": "0" * 40,
        "after": head,
        "head_commit": {"id": head, "message": "main"},
        "repository": {
            "full_name": "acme/mlship",
            "name": "mlship",
            "owner": {"login": "acme", "name": "acme"},
            "default_branch": "main",
        },
        "pusher": {"name": "release-manager"},
    }


def test_release_builds_smoke_tests_pushes_and_promotes_the_challenger(
    production: Production,
) -> None:
    scenario, world = production.scenario, production.world
    champion = world.aliases()["champion"]
    challenger = world.aliases()["challenger"]
    recorder = scenario.work / "push-recorder.sh"
    recorder.write_text(PUSH_RECORDER, encoding="utf-8")
    recorder.chmod(0o755)
    push_log = scenario.work / "pushes.jsonl"
    env = {
        "CONTAINER": container_engine.engine(),
        "IMAGE": IMAGE,
        "PUSH": str(recorder),
        "LOGIN": f"{recorder} login",
        "PUSH_LOG": str(push_log),
    }
    with support.Traffic(production.url, production.rows, clients=2):
        run = scenario.act(
            "push",
            "release.yml",
            _push_event(scenario.repo, f"refs/tags/{TAG}"),
            extra_env=env,
            secrets=production.secrets,
        )
    assert run.result("image") == "success", run.describe()
    assert run.result("deploy") == "success", run.describe()
    assert "image-smoke: localhost/mlship-serve:release-test passed" in run.log("image")
    calls = [json.loads(line) for line in push_log.read_text(encoding="utf-8").splitlines()]
    login, pushes = calls[0], calls[1:]
    assert login["login"] == "ghcr.io" and login["token_chars"] == len(GITHUB_TOKEN), calls
    sha = git(scenario.repo, "rev-parse", "--short=12", "HEAD")
    assert [p["ref"] for p in pushes] == [
        f"ghcr.io/acme/mlship:{TAG}",
        f"ghcr.io/acme/mlship:sha-{sha}",
    ]
    built = container_engine.image_id(IMAGE)
    assert {p["id"] for p in pushes} == {built}, "both tags name the image that was smoke-tested"
    assert f"decision: PROMOTE version {challenger} to champion" in run.log("deploy")
    assert world.aliases() == {"champion": challenger}
    assert production.served()["champion"]["version"] == challenger
    last = world.history()[-1]
    assert (last["action"], last["version"], last["previous"]) == ("promote", challenger, champion)


def test_rollback_workflow_returns_the_champion_to_the_previous_version(
    production: Production,
) -> None:
    scenario, world = production.scenario, production.world
    history = world.history()
    assert history[-1]["action"] == "promote", "runs after the release test"
    current, previous = history[-1]["version"], history[-1]["previous"]
    payload = {"ref": "refs/heads/main", "inputs": {}, "repository": {"full_name": "acme/mlship"}}
    run = scenario.act("workflow_dispatch", "rollback.yml", payload, secrets=production.secrets)
    assert run.result("rollback") == "success", run.describe()
    assert f"champion is version {previous} again" in run.log("rollback")
    assert world.aliases() == {"champion": previous}
    assert production.served()["champion"]["version"] == previous
    last = world.history()[-1]
    assert (last["action"], last["version"], last["previous"]) == ("rollback", previous, current)


def test_train_workflow_registers_a_new_version_as_challenger(production: Production) -> None:
    scenario, world = production.scenario, production.world
    with world.registry() as registry:
        before = {row.version for row in registry.status()}
    secrets = {"MLFLOW_TRACKING_URI": production.secrets["MLFLOW_TRACKING_URI"]}
    run = scenario.act(
        "push", "train.yml", _push_event(scenario.repo, "refs/heads/main"), secrets=secrets
    )
    assert run.result("train") == "success", run.describe()
    with world.registry() as registry:
        rows = {row.version: row for row in registry.status()}
    new = sorted(set(rows) - before, key=int)
    assert len(new) == 1, run.describe()
    assert rows[new[0]].aliases == ("challenger",)
    assert "roc_auc" in rows[new[0]].metrics
    assert "as challenger" in run.log("train")
