"""The staging Deployment, as rendered, runs with `podman kube play` and passes pre-production.

System tier: the serving image is built from the Dockerfile with the fixture's model (as the
release builds it), `make k8s-render OVERLAY=staging IMAGE_REF=<that image>` renders the overlay,
and podman runs the rendered objects: the pod gets the manifest's probes, security context,
resources and env, and `mlship preprod` (readiness, parity, load, fuzz) runs against it as
release.yml runs it against the staging cluster. No cluster can exist here; podman is the
closest runtime of a Deployment on one host.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import kube_play
from k8s_support import REPO, Manifest, cpu_cores, env_of, one, render, serving_container
from live_process import free_port
from path_import import import_file

from mlship.config import Params
from mlship.preprod.cli import main as preprod

pytestmark = pytest.mark.system

container_engine = import_file(
    "mlship_container_engine", REPO / "tests" / "container" / "container_engine.py"
)
TAG = "localhost/mlship-serve:kube-play-test"
MEMORY_UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30}


@dataclass
class Staging:
    """The pod podman runs from the staging overlay, and what it was given."""

    container: str
    url: str
    manifest: Manifest
    secret_values: dict[str, str]

    def exec(self, *command: str) -> str:
        """Run `command` in the serving container; its stdout."""
        return str(container_engine.run("exec", self.container, *command).stdout)


@pytest.fixture(scope="module")
def image(trained_project: tuple[Path, Params], tmp_path_factory: pytest.TempPathFactory) -> str:
    """The serving image, built in this session as the release builds it."""
    if container_engine.engine() != "podman":
        pytest.skip("podman kube play runs Kubernetes YAML with podman: MLSHIP_CONTAINER=podman")
    root, params = trained_project
    try:
        return str(
            container_engine.build_serving_image(
                TAG, root / params.paths.model_dir, tmp_path_factory.mktemp("image")
            )
        )
    except container_engine.ContainerError as exc:
        pytest.fail(f"could not build {TAG}: {exc}", pytrace=False)


@pytest.fixture(scope="module")
def staging(image: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Staging]:
    """The staging overlay rendered with the built image and played with podman; torn down after."""
    rendered = tmp_path_factory.mktemp("kube-play") / "staging.yaml"
    manifest = one(render(rendered, "staging", image_ref=image), "Deployment")
    # Test values for the Secret docs/deploy.md has a team create: its example registry (never
    # contacted: the baked-in model needs none) and a fresh admin token.
    values = {
        "mlflow-tracking-uri": "http://mlflow.mlops.svc:5000",
        "admin-token": secrets.token_hex(16),
    }
    host_port = free_port()
    try:
        container = kube_play.up(rendered, host_port, values)
        yield Staging(container, f"http://127.0.0.1:{host_port}", manifest, values)
    finally:
        kube_play.down(rendered)


@pytest.fixture(scope="module")
def ready(staging: Staging, trained_project: tuple[Path, Params]) -> Staging:
    """The staging pod once `mlship preprod readiness` saw it ready."""
    code = _preprod(trained_project[0], staging.url, "readiness", "--ready-timeout", "180")
    if code != 0:
        logs = container_engine.run("logs", "--tail", "30", staging.container, check=False)
        pytest.fail(f"staging never became ready:\n{logs.stdout}{logs.stderr}", pytrace=False)
    return staging


def _preprod(root: Path, url: str, *check: str) -> int:
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        return preprod([*check, "--url", url])


@pytest.mark.parametrize(
    "check",
    [
        ["readiness"],
        ["parity"],
        ["load", "--requests", "100", "--concurrency", "2", "--p99-ms", "20000"],
        ["fuzz", "--max-examples", "5"],
    ],
    ids=lambda check: check[0],
)
def test_the_pre_production_checks_pass_on_the_staging_pod(
    ready: Staging,
    trained_project: tuple[Path, Params],
    check: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = _preprod(trained_project[0], ready.url, *check)
    out = capsys.readouterr()
    assert code == 0, out.out + out.err
    assert f"preprod {check[0]}: pass" in out.out


def test_the_pod_runs_the_built_image_with_the_manifests_security_context(ready: Staging) -> None:
    container = serving_container([ready.manifest])
    context = {**ready.manifest["spec"]["template"]["spec"]["securityContext"]}
    context.update(container["securityContext"])
    assert ready.exec("id", "-u").strip() == str(context["runAsUser"]) != "0"
    assert ready.exec("id", "-g").strip() == str(context["runAsGroup"])
    inspected = json.loads(container_engine.run("inspect", ready.container).stdout)[0]
    assert inspected["ImageName"] == TAG
    # readOnlyRootFilesystem: the root is read-only, /tmp (the manifest's emptyDir) is not.
    assert context["readOnlyRootFilesystem"] is True
    written = container_engine.run(
        "exec", ready.container, "touch", "/opt/mlship-model/written", check=False
    )
    assert written.returncode != 0 and "Read-only file system" in written.stderr
    [mount] = [m["mountPath"] for m in container["volumeMounts"]]
    ready.exec("touch", f"{mount}/written")
    # capabilities.drop [ALL] and allowPrivilegeEscalation false, seen by the serving process.
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    status = dict(line.split(":\t", 1) for line in ready.exec("cat", "/proc/1/status").splitlines())
    assert {status[f"Cap{kind}"].strip() for kind in ("Prm", "Eff", "Bnd", "Amb")} == {"0" * 16}
    assert context["allowPrivilegeEscalation"] is False
    assert status["NoNewPrivs"].strip() == "1"


def _memory_bytes(quantity: str) -> int:
    unit = quantity[-2:]
    return int(quantity[:-2]) * MEMORY_UNITS[unit] if unit in MEMORY_UNITS else int(quantity)


def _cgroup_limits(staging: Staging) -> tuple[int, float]:
    """The container's memory limit (bytes) and CPU quota (cores) as its cgroup enforces them."""
    # cgroup v2 (GitHub's runners) names them memory.max and cpu.max; v1 (this machine) splits them.
    v1 = "/sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.cfs_quota_us"
    script = (
        "cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/cpu.max 2>/dev/null "
        f"|| cat {v1} /sys/fs/cgroup/cpu/cpu.cfs_period_us"
    )
    memory, quota, period = staging.exec("sh", "-c", script).split()
    return int(memory), int(quota) / int(period)


def test_the_pod_gets_the_manifests_resources_and_env(ready: Staging) -> None:
    container = serving_container([ready.manifest])
    limits = container["resources"]["limits"]
    assert _cgroup_limits(ready) == (_memory_bytes(limits["memory"]), cpu_cores(limits["cpu"]))
    seen = dict(line.split("=", 1) for line in ready.exec("env").splitlines() if "=" in line)
    for name, entry in env_of(container).items():
        if "value" in entry:
            expected = entry["value"]
        else:
            expected = ready.secret_values[entry["valueFrom"]["secretKeyRef"]["key"]]
        assert seen.get(name) == expected, name
    # OMP_NUM_THREADS matches the CPU limit (the base kustomization's replacement).
    assert float(seen["OMP_NUM_THREADS"]) == cpu_cores(limits["cpu"])


def test_the_manifests_probe_endpoints_answer_on_the_pod(ready: Staging) -> None:
    # podman 4.3 does not run readiness or startup probes, and turns the liveness probe into a
    # `curl` healthcheck (absent from the image, and a named port becomes 0): the test sends
    # each probe's request as the kubelet would, to the port the probe names.
    container = serving_container([ready.manifest])
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    probes = {
        kind: container[kind]["httpGet"]
        for kind in ("startupProbe", "livenessProbe", "readinessProbe")
    }
    for kind, probe in probes.items():
        assert ports[probe["port"]] == container["ports"][0]["containerPort"], kind
        answer = httpx.get(f"{ready.url}{probe['path']}", timeout=container[kind]["timeoutSeconds"])
        assert answer.status_code == 200, (kind, answer.text)
    assert probes["readinessProbe"]["path"] == "/ready"
    assert probes["livenessProbe"]["path"] == "/health"
