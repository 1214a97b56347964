"""release.yml, rollback.yml and train.yml run under act against a real registry and service.

The "production" the workflows canary on is a live `mlship serve` on loopback, loading
`models:/churn@champion` and `@challenger` from an MLflow registry (SQLite) that the test
prepared with real trained models, while held-out rows flow at it as traffic. The image is
built and smoke-tested for real with the system tier's container engine (docker, or podman
with the stand-in base image: tests/container). Stand-ins only for what cannot exist here: the
push to GHCR (a `PUSH` command that records each reference and the image ID it names) and
`kubectl` against a cluster (KUBECTL: it records every call; an apply to the staging namespace
plays the applied objects with `podman kube play` on loopback, tests/deploy/kube_play.py, which
the pre-production tests then exercise for real).

System tier, in order: a training run on the tagged commit, a release (image, staging,
pre-production tests, production, canary of that commit's model), a release whose service
predicts otherwise than its pipeline (stopped at staging), one rollback.
"""

from __future__ import annotations

import json
import sys
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


KUBECTL_STANDIN = """#!/bin/bash
# Stand-in for kubectl against a cluster (make k8s-deploy calls it as KUBECTL). Records each call
# as JSON: its arguments, the namespace and image of an applied file, and whether KUBECONFIG
# holds the environment's kubeconfig secret. `apply` into the staging namespace plays the applied
# objects with podman on loopback (STAGING_PORT); `rollout status` there waits for its /ready.
set -euo pipefail
namespace="" image="" file=""
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[i]}" in
    --namespace) namespace="${args[i + 1]}" ;;
    -f) file="${args[i + 1]}" ;;
  esac
done
if [[ -n "$file" ]]; then
  namespace="$(sed -n 's/^  namespace: //p' "$file" | head -1)"
  image="$(sed -n 's/^ *image: //p' "$file" | head -1)"
fi
credentials=false
if [[ -n "${KUBECONFIG:-}" && "$(cat "$KUBECONFIG")" == "$EXPECTED_KUBECONFIG" ]]; then
  credentials=true
fi
python3 -c 'import json, sys; a = sys.argv; print(json.dumps({"args": a[4:], "namespace": a[1],
  "image": a[2], "credentials": a[3] == "true"}))' \\
  "$namespace" "$image" "$credentials" "$@" >> "$KUBECTL_LOG"
[[ "$namespace" == mlship-staging ]] || exit 0
if [[ "$1" == apply ]]; then
  # The applied objects run as written under podman kube play (tests/deploy/kube_play.py), from
  # the pushed image, which the cluster would pull: podman's store has it unless docker built it.
  [[ "$CONTAINER" == podman ]] || "$CONTAINER" save "$image" | podman load >/dev/null
  cp "$file" "$STAGING_DIR/staging.yaml"
  $KUBE_PLAY up "$STAGING_DIR/staging.yaml" "$STAGING_PORT" \
    --secret "mlflow-tracking-uri=$STAGING_TRACKING_URI" --secret "admin-token=$STAGING_TOKEN" \
    >/dev/null
  echo "deployment.apps/mlship configured"
elif [[ "$1" == --namespace && "$3" == rollout ]]; then
  for _ in $(seq 120); do
    if python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' \
      "http://127.0.0.1:$STAGING_PORT/ready" 2>/dev/null; then
      echo 'deployment "mlship" successfully rolled out'; exit 0
    fi
    sleep 1
  done
  echo "error: deployment mlship exceeded its progress deadline" >&2; exit 1
fi
"""
KUBECONFIG = '{"apiVersion": "v1", "kind": "Config", "clusters": []}'  # JSON is YAML
# A serving change that makes the service answer otherwise than the pipeline scores (a
# dev/prod skew): the parity check must stop the release at staging.
SKEW = ('"probability": result.probabilities[index],', '"probability": 0.5,')


support = import_file("mlship_rollout_support", REPO / "tests" / "rollout" / "rollout_support.py")
# kube_play imports its sibling k8s_support by name, as its own directory's tests do.
import_file("k8s_support", REPO / "tests" / "deploy" / "k8s_support.py")
kube_play = import_file("mlship_kube_play", REPO / "tests" / "deploy" / "kube_play.py")
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


def _release_env(
    production: Production, kubectl_log: Path, port: int, staging_dir: Path
) -> dict[str, str]:
    scenario = production.scenario
    recorder = scenario.work / "push-recorder.sh"
    recorder.write_text(PUSH_RECORDER, encoding="utf-8")
    recorder.chmod(0o755)
    kubectl = scenario.work / "kubectl-standin.sh"
    kubectl.write_text(KUBECTL_STANDIN, encoding="utf-8")
    kubectl.chmod(0o755)
    return {
        "CONTAINER": container_engine.engine(),
        "IMAGE": IMAGE,
        "PUSH": str(recorder),
        "LOGIN": f"{recorder} login",
        "PUSH_LOG": str(scenario.work / "pushes.jsonl"),
        "KUBECTL": str(kubectl),
        "KUBECTL_LOG": str(kubectl_log),
        "EXPECTED_KUBECONFIG": KUBECONFIG,
        "KUBE_PLAY": f"{sys.executable} {REPO / 'tests' / 'deploy' / 'kube_play.py'}",
        "STAGING_DIR": str(staging_dir),
        "STAGING_PORT": str(port),
        # The staging Secret's values, never contacted: staging serves the model the image bakes in.
        "STAGING_TRACKING_URI": "http://mlflow.mlops.svc:5000",
        "STAGING_TOKEN": "staging-admin-token",
        # The load test's budget on a machine shared with act and podman: errors none, p99 loose.
        "PREPROD_LOAD": "--requests 100 --concurrency 2 --p99-ms 20000",
    }


def _release(production: Production, tag: str, kubectl_log: Path) -> Any:
    port = support.serving_helpers.free_port()
    staging_dir = production.scenario.work / f"staging-{tag}"
    staging_dir.mkdir()
    secrets = {
        **production.secrets,
        "KUBECONFIG_DATA": KUBECONFIG,
        "MLSHIP_STAGING_URL": f"http://127.0.0.1:{port}",
    }
    try:
        with support.Traffic(production.url, production.rows, clients=2):
            return production.scenario.act(
                "push",
                "release.yml",
                _push_event(production.scenario.repo, f"refs/tags/{tag}"),
                extra_env=_release_env(production, kubectl_log, port, staging_dir),
                secrets=secrets,
                timeout=2400,
            )
    finally:
        if (staging_dir / "staging.yaml").exists():
            kube_play.down(staging_dir / "staging.yaml")


def _kubectl_calls(log: Path) -> list[dict[str, Any]]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]


def test_release_deploys_staging_tests_it_then_production_and_canaries_the_tags_model(
    production: Production,
) -> None:
    scenario, world = production.scenario, production.world
    champion = world.aliases()["champion"]
    commit = git(scenario.repo, "rev-parse", "HEAD")
    with world.registry() as registry:
        # The training run of the tagged commit (the test above): the version the release ships.
        tagged = [
            row.version
            for row in registry.status()
            if registry.client.get_model_version(registry.name, row.version).tags.get("git_sha")
            == commit
        ]
    assert len(tagged) == 1, "train.yml registered the tagged commit's model first"
    kubectl_log = scenario.work / "kubectl-good.jsonl"
    run = _release(production, TAG, kubectl_log)
    for job in ("image", "staging", "production"):
        assert run.result(job) == "success", run.describe()
    assert "image-smoke: localhost/mlship-serve:release-test passed" in run.log("image")
    sha = git(scenario.repo, "rev-parse", "--short=12", "HEAD")
    image_ref = f"ghcr.io/acme/mlship:sha-{sha}"
    pushes = [
        json.loads(line)
        for line in (scenario.work / "pushes.jsonl").read_text(encoding="utf-8").splitlines()
    ][1:]
    assert [p["ref"] for p in pushes] == [f"ghcr.io/acme/mlship:{TAG}", image_ref]
    assert {p["id"] for p in pushes} == {container_engine.image_id(IMAGE)}
    # Staging first, then production, each applied with the pushed image and then awaited,
    # every call with the environment's kubeconfig.
    calls = _kubectl_calls(kubectl_log)
    assert [(c["args"][0], c["namespace"]) for c in calls] == [
        ("apply", "mlship-staging"),
        ("--namespace", "mlship-staging"),
        ("apply", "mlship-production"),
        ("--namespace", "mlship-production"),
    ], calls
    assert [c["image"] for c in calls if c["args"][0] == "apply"] == [image_ref, image_ref]
    assert all(c["credentials"] for c in calls), calls
    staging = run.log("staging")
    for check in ("readiness", "parity", "load", "fuzz"):
        assert f"preprod {check}: pass" in staging, staging[-4000:]
    deploy = run.log("production")
    version = tagged[0]
    assert f"release: churn version {version} is commit {commit[:12]}'s model" in deploy
    assert f"decision: PROMOTE version {version} to champion" in deploy
    assert world.aliases() == {"champion": version}
    assert production.served()["champion"]["version"] == version
    last = world.history()[-1]
    assert (last["action"], last["version"], last["previous"]) == ("promote", version, champion)


def test_a_release_whose_service_predicts_otherwise_than_its_pipeline_never_reaches_production(
    production: Production,
) -> None:
    scenario, world = production.scenario, production.world
    before = (world.aliases(), world.history())
    # The skew goes where /predict builds each answer.
    route = scenario.repo / "src" / "mlship" / "serving" / "routes" / "predict.py"
    text = route.read_text(encoding="utf-8")
    assert SKEW[0] in text
    git(scenario.repo, "checkout", "--quiet", "-b", "skew")
    route.write_text(text.replace(*SKEW), encoding="utf-8")
    git(scenario.repo, "commit", "--quiet", "--all", "--message", "serving: a skew")
    git(scenario.repo, "tag", "v1.2.1")
    kubectl_log = scenario.work / "kubectl-skew.jsonl"
    try:
        run = _release(production, "v1.2.1", kubectl_log)
    finally:
        git(scenario.repo, "checkout", "--quiet", "main")
    assert run.result("image") == "success", run.describe()
    assert run.result("staging") == "failure", run.describe()
    assert run.result("production") == "skipped", run.describe()
    staging = run.log("staging")
    assert "preprod parity: FAIL: 600 held-out rows, " in staging, staging[-4000:]
    assert "preprod load" not in staging  # the steps after the failed one never ran
    assert {c["namespace"] for c in _kubectl_calls(kubectl_log)} == {"mlship-staging"}
    assert (world.aliases(), world.history()) == before


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
