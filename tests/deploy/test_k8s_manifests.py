"""What each rendered overlay promises: hardened pods, probes, threads, wiring, settings, Secret."""

from __future__ import annotations

import importlib
import inspect
import math
import os
import pkgutil
import re
from pathlib import Path
from typing import Any

import pytest
from k8s_support import (
    OVERLAYS,
    REPO,
    Manifest,
    cpu_cores,
    dockerfile_value,
    env_of,
    one,
    render,
    serving_container,
)
from pydantic_settings import BaseSettings

import mlship.serving
from mlship.config import load_params
from mlship.tracking import tracking_uri

DOCS = REPO / "docs" / "deploy.md"
_MODEL_NAME = load_params(REPO / "params.yaml").registry.model_name
# Staging serves the image's baked-in model (what the release's parity check compares with the
# pipeline); production the registry's champion and the challenger a rollout canaries.
SERVED_MODELS = {
    "staging": ("/opt/mlship-model", None),
    "production": (f"models:/{_MODEL_NAME}@champion", f"models:/{_MODEL_NAME}@challenger"),
}


@pytest.fixture(scope="module", name="monitored")
def _monitored(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Manifest]]:
    out = tmp_path_factory.mktemp("k8s-sm")
    return {
        overlay: render(out / f"{overlay}.yaml", overlay, components="servicemonitor")
        for overlay in OVERLAYS
    }


def _pod(objects: list[Manifest]) -> Manifest:
    spec: Manifest = one(objects, "Deployment")["spec"]["template"]["spec"]
    return spec


def _pod_labels(objects: list[Manifest]) -> dict[str, str]:
    labels: dict[str, str] = one(objects, "Deployment")["spec"]["template"]["metadata"]["labels"]
    return labels


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def _settings_classes() -> list[type[BaseSettings]]:
    # Every pydantic-settings class the service's modules define or import (its own and the
    # recorder's), found in the code so a renamed, moved or added setting needs no test edit.
    found: dict[str, type[BaseSettings]] = {}
    for module in pkgutil.iter_modules(mlship.serving.__path__, "mlship.serving."):
        for obj in vars(importlib.import_module(module.name)).values():
            if inspect.isclass(obj) and issubclass(obj, BaseSettings) and obj is not BaseSettings:
                found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    assert found, "mlship.serving has no pydantic-settings class"
    return list(found.values())


def _setting_names() -> set[str]:
    names = set()
    for cls in _settings_classes():
        prefix = str(cls.model_config.get("env_prefix", ""))
        for field, info in cls.model_fields.items():
            alias = info.validation_alias
            names.add(alias.upper() if isinstance(alias, str) else f"{prefix}{field}".upper())
    return names


def test_every_container_runs_non_root_read_only_without_capabilities(
    overlays: dict[str, list[Manifest]],
) -> None:
    image_user = int(dockerfile_value("USER").split(":")[0])
    for overlay, objects in overlays.items():
        pod = _pod(objects)
        pod_context = pod.get("securityContext", {})
        assert pod["automountServiceAccountToken"] is False, overlay
        for container in pod["containers"] + pod.get("initContainers", []):
            context = {**pod_context, **container.get("securityContext", {})}
            where = (overlay, container["name"])
            assert context["runAsNonRoot"] is True, where
            assert context["runAsUser"] == image_user, where
            assert context["readOnlyRootFilesystem"] is True, where
            assert context["allowPrivilegeEscalation"] is False, where
            assert context.get("privileged", False) is False, where
            assert context["capabilities"]["drop"] == ["ALL"], where
            assert not context["capabilities"].get("add"), where
            assert context["seccompProfile"]["type"] == "RuntimeDefault", where


def test_the_paths_the_service_writes_are_on_a_writable_volume(
    overlays: dict[str, list[Manifest]],
) -> None:
    # The root filesystem is read-only: the image's working directory (where relative settings
    # paths such as MLSHIP_MLFLOW_DIR land) and tempfile's /tmp must be mounted volumes.
    workdir = Path(dockerfile_value("WORKDIR"))
    relative = [
        field.default
        for cls in _settings_classes()
        for field in cls.model_fields.values()
        if isinstance(field.default, Path) and not field.default.is_absolute()
    ]
    assert relative, "expected settings with relative default paths (MLSHIP_MLFLOW_DIR)"
    for overlay, objects in overlays.items():
        pod = _pod(objects)
        volumes = {v["name"]: v for v in pod["volumes"]}
        mounts = [
            Path(m["mountPath"])
            for m in serving_container(objects)["volumeMounts"]
            if not m.get("readOnly") and "emptyDir" in volumes[m["name"]]
        ]
        for path in [Path("/tmp"), *(workdir / p for p in relative)]:  # nosec B108
            assert any(path.is_relative_to(m) for m in mounts), (overlay, path)


def test_probes_point_at_health_and_ready_on_the_service_port(
    overlays: dict[str, list[Manifest]],
) -> None:
    for overlay, objects in overlays.items():
        container = serving_container(objects)
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        env = env_of(container)
        assert int(env["MLSHIP_PORT"]["value"]) == int(dockerfile_value("EXPOSE"))
        expected = {"startupProbe": "/health", "livenessProbe": "/health"}
        expected["readinessProbe"] = "/ready"
        for probe, path in expected.items():
            get = container[probe]["httpGet"]
            assert get["path"] == path, (overlay, probe)
            assert ports[get["port"]] == int(env["MLSHIP_PORT"]["value"]), (overlay, probe)
        assert env["MLSHIP_HOST"]["value"] == "0.0.0.0"  # nosec B104  # reachable in the pod


def test_shutdown_waits_for_the_prestop_sleep_and_in_flight_requests(
    overlays: dict[str, list[Manifest]],
) -> None:
    for overlay, objects in overlays.items():
        pod = _pod(objects)
        sleep = serving_container(objects)["lifecycle"]["preStop"]["sleep"]["seconds"]
        assert sleep >= 1, overlay
        # After the sleep, uvicorn drains; a max-size batch takes seconds: keep 20 s of room.
        assert pod["terminationGracePeriodSeconds"] >= sleep + 20, overlay


def test_resources_are_requested_and_limited_in_whole_cpus(
    overlays: dict[str, list[Manifest]],
) -> None:
    for overlay, objects in overlays.items():
        resources = serving_container(objects)["resources"]
        for key in ("cpu", "memory"):
            assert resources["requests"][key] and resources["limits"][key], (overlay, key)
        limit = cpu_cores(resources["limits"]["cpu"])
        assert limit == int(limit) and cpu_cores(resources["requests"]["cpu"]) <= limit, overlay


def test_openmp_and_service_threads_equal_the_cpu_limit(
    overlays: dict[str, list[Manifest]],
) -> None:
    for overlay, objects in overlays.items():
        container = serving_container(objects)
        cores = max(1, math.floor(cpu_cores(container["resources"]["limits"]["cpu"])))
        env = env_of(container)
        assert env["OMP_NUM_THREADS"]["value"] == str(cores), overlay
        assert env["MLSHIP_THREADS"]["value"] == str(cores), overlay


def test_service_pdb_policy_and_spread_select_the_deployments_pods(
    overlays: dict[str, list[Manifest]],
) -> None:
    for overlay, objects in overlays.items():
        deployment = one(objects, "Deployment")
        labels = _pod_labels(objects)
        assert _selects(deployment["spec"]["selector"]["matchLabels"], labels), overlay
        assert _selects(one(objects, "Service")["spec"]["selector"], labels), overlay
        pdb = one(objects, "PodDisruptionBudget")["spec"]
        assert _selects(pdb["selector"]["matchLabels"], labels), overlay
        policy = one(objects, "NetworkPolicy")["spec"]
        assert _selects(policy["podSelector"]["matchLabels"], labels), overlay
        for spread in _pod(objects)["topologySpreadConstraints"]:
            assert _selects(spread["labelSelector"]["matchLabels"], labels), overlay


def test_service_port_reaches_the_container_port(overlays: dict[str, list[Manifest]]) -> None:
    for overlay, objects in overlays.items():
        names = {p["name"] for p in serving_container(objects)["ports"]}
        for port in one(objects, "Service")["spec"]["ports"]:
            assert port["targetPort"] in names, overlay


def test_autoscaler_targets_the_deployment_and_production_survives_a_drain(
    overlays: dict[str, list[Manifest]],
) -> None:
    for overlay, objects in overlays.items():
        deployment = one(objects, "Deployment")
        hpa = one(objects, "HorizontalPodAutoscaler")["spec"]
        target = hpa["scaleTargetRef"]
        assert (target["apiVersion"], target["kind"]) == (deployment["apiVersion"], "Deployment")
        assert target["name"] == deployment["metadata"]["name"], overlay
        assert 1 <= hpa["minReplicas"] <= hpa["maxReplicas"], overlay
        # The HPA owns the count: an apply that set replicas would undo its scaling.
        assert "replicas" not in deployment["spec"], overlay
    production = one(overlays["production"], "HorizontalPodAutoscaler")["spec"]
    pdb = one(overlays["production"], "PodDisruptionBudget")["spec"]
    assert production["minReplicas"] > pdb["maxUnavailable"]


def test_network_policy_admits_only_the_http_port_and_reaches_dns_and_mlflow(
    overlays: dict[str, list[Manifest]],
) -> None:
    for overlay, objects in overlays.items():
        policy = one(objects, "NetworkPolicy")["spec"]
        assert set(policy["policyTypes"]) == {"Ingress", "Egress"}
        ports = {p["name"]: p["containerPort"] for p in serving_container(objects)["ports"]}
        ingress = [(p["port"], p["protocol"]) for rule in policy["ingress"] for p in rule["ports"]]
        assert [(ports.get(port, port), proto) for port, proto in ingress] == [(8000, "TCP")]
        egress = {(p["port"], p["protocol"]) for rule in policy["egress"] for p in rule["ports"]}
        assert egress == {(53, "UDP"), (53, "TCP"), (5000, "TCP")}, overlay


def test_env_names_are_settings_the_service_reads(
    overlays: dict[str, list[Manifest]], monkeypatch: pytest.MonkeyPatch
) -> None:
    known = _setting_names()
    assert "MLSHIP_CHAMPION" in known and "MLSHIP_THREADS" in known
    for overlay, objects in overlays.items():
        # No MLSHIP_PORT=tcp://... and MLSHIP_SERVICE_* injected for the Service named mlship.
        assert _pod(objects)["enableServiceLinks"] is False, overlay
        env = env_of(serving_container(objects))
        for name in env:
            if name.startswith("MLSHIP_"):
                assert name in known, f"{overlay}: {name} is no field of the service's settings"
        # The other two: the registry URI is read by mlship.tracking, OMP_NUM_THREADS by the
        # OpenMP runtime (and defaulted by `mlship serve` itself).
        assert set(env) - known == {"MLFLOW_TRACKING_URI", "OMP_NUM_THREADS"}, overlay
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.mlops:5000")
    assert tracking_uri(Path("unused")) == "http://mlflow.mlops:5000"


def test_the_rendered_settings_parse_to_what_the_pod_needs(
    overlays: dict[str, list[Manifest]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Plain values as the pod gets them; Secret values are placeholders (none is committed).
    # Constructing each settings class raises on a value the service would refuse at start.
    for overlay, objects in overlays.items():
        env = env_of(serving_container(objects))
        for name in [name for name in os.environ if name.startswith("MLSHIP_")]:
            monkeypatch.delenv(name)  # nothing carried over from the previous overlay
        for name, entry in env.items():
            monkeypatch.setenv(name, entry.get("value", f"placeholder-{name.lower()}"))
        settings = {cls.__name__: cls() for cls in _settings_classes()}
        serve: Any = next(s for s in settings.values() if "champion" in type(s).model_fields)
        assert (serve.champion, serve.challenger) == SERVED_MODELS[overlay], overlay
        assert serve.threads == int(env["OMP_NUM_THREADS"]["value"]), overlay
        assert serve.port == int(dockerfile_value("EXPOSE")), overlay
        assert serve.admin_token is not None, overlay


def test_every_referenced_secret_key_is_in_the_documented_create_command(
    overlays: dict[str, list[Manifest]],
) -> None:
    docs = DOCS.read_text(encoding="utf-8")
    command = re.search(r"create secret generic (\S+)(.*?)```", docs, re.DOTALL)
    assert command, "docs/deploy.md shows no `kubectl create secret generic`"
    documented = set(re.findall(r"--from-literal=([a-z0-9-]+)=", command.group(2)))
    for overlay, objects in overlays.items():
        refs = [
            entry["valueFrom"]["secretKeyRef"]
            for entry in env_of(serving_container(objects)).values()
            if "secretKeyRef" in entry.get("valueFrom", {})
        ]
        assert refs, overlay
        assert {ref["name"] for ref in refs} == {command.group(1)}, overlay
        assert {ref["key"] for ref in refs} == documented, overlay
        assert not [o for o in objects if o["kind"] == "Secret"], "no Secret is committed"
    assert not list((REPO / "deploy").rglob("*secret*")), "no Secret file under deploy/"


def test_pods_carry_prometheus_scrape_annotations(overlays: dict[str, list[Manifest]]) -> None:
    for overlay, objects in overlays.items():
        annotations = one(objects, "Deployment")["spec"]["template"]["metadata"]["annotations"]
        port = int(env_of(serving_container(objects))["MLSHIP_PORT"]["value"])
        assert annotations["prometheus.io/scrape"] == "true", overlay
        assert int(annotations["prometheus.io/port"]) == port, overlay
        assert annotations["prometheus.io/path"] == "/metrics", overlay


def test_service_monitor_component_scrapes_the_service_metrics(
    monitored: dict[str, list[Manifest]],
) -> None:
    # kubernetes-validate has no schema for this CRD: the fields the operator acts on are
    # checked here as prometheus-operator's monitoring.coreos.com/v1 CRD defines them (selector
    # matches Service labels; endpoints name a Service port; durations like 30s).
    duration = r"(\d+h)?(\d+m)?(\d+s)?(\d+ms)?"
    for overlay, objects in monitored.items():
        monitor = one(objects, "ServiceMonitor")
        service = one(objects, "Service")
        assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
        assert monitor["metadata"]["namespace"] == service["metadata"]["namespace"], overlay
        assert _selects(monitor["spec"]["selector"]["matchLabels"], service["metadata"]["labels"])
        port_names = {p["name"] for p in service["spec"]["ports"]}
        for endpoint in monitor["spec"]["endpoints"]:
            assert endpoint["port"] in port_names, overlay
            assert endpoint["path"] == "/metrics", overlay
            for key in ("interval", "scrapeTimeout"):
                assert re.fullmatch(duration, endpoint[key]) and endpoint[key], (overlay, key)


def test_plain_overlays_carry_no_crd(overlays: dict[str, list[Manifest]]) -> None:
    # A cluster without the Prometheus operator must accept `kubectl apply -k` as committed.
    for overlay, objects in overlays.items():
        assert not [o for o in objects if "coreos.com" in o["apiVersion"]], overlay
