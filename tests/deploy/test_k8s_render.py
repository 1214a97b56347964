"""The overlays render with `make k8s-render`, validate offline, and pin the image they ship."""

from __future__ import annotations

import copy
import hashlib
import shutil
from pathlib import Path

import kubernetes_validate
import pytest
from k8s_support import (
    OVERLAYS,
    REPO,
    Manifest,
    make_render,
    make_variable,
    one,
    render,
    run_make,
    serving_container,
)

SERVICE_KINDS = {
    "Deployment",
    "Service",
    "HorizontalPodAutoscaler",
    "PodDisruptionBudget",
    "NetworkPolicy",
}
DIGEST_REF = "ghcr.io/acme/churn@sha256:" + "ab" * 32


def test_staging_and_production_overlays_exist() -> None:
    assert {"staging", "production"} <= set(OVERLAYS)


def test_each_overlay_renders_the_service_objects_in_its_own_namespace(
    overlays: dict[str, list[Manifest]],
) -> None:
    namespaces = set()
    for overlay, objects in overlays.items():
        assert {o["kind"] for o in objects} == SERVICE_KINDS, overlay
        (namespace,) = {o["metadata"]["namespace"] for o in objects}
        namespaces.add(namespace)
    assert len(namespaces) == len(overlays)


def test_every_object_validates_strictly_against_the_kubernetes_schemas(
    overlays: dict[str, list[Manifest]],
) -> None:
    version = make_variable("K8S_VERSION")
    for overlay, objects in overlays.items():
        for manifest in objects:
            # SchemaNotFoundError (an apiVersion Kubernetes does not serve) fails the test too.
            validated = kubernetes_validate.validate(manifest, version, strict=True)
            assert validated == ".".join(version.split(".")[:2]), (overlay, manifest["kind"])


def test_strict_validation_rejects_a_misspelt_field(overlays: dict[str, list[Manifest]]) -> None:
    deployment = copy.deepcopy(one(overlays["staging"], "Deployment"))
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["readinessProb"] = container.pop("readinessProbe")
    with pytest.raises(kubernetes_validate.ValidationError, match="readinessProb"):
        kubernetes_validate.validate(deployment, make_variable("K8S_VERSION"), strict=True)


def test_each_overlay_pins_its_image_by_tag_or_digest(
    overlays: dict[str, list[Manifest]],
) -> None:
    for overlay, objects in overlays.items():
        image = serving_container(objects)["image"]
        name, _, tag = image.rpartition(":")
        assert "@sha256:" in image or (name and "/" not in tag and tag != "latest"), (
            overlay,
            image,
        )


def test_image_ref_sets_the_digest_without_editing_committed_files(
    tmp_path: Path, overlays: dict[str, list[Manifest]]
) -> None:
    committed = {p: p.read_bytes() for p in (REPO / "deploy").rglob("*") if p.is_file()}
    pinned = render(tmp_path / "out.yaml", "production", image_ref=DIGEST_REF)
    assert serving_container(pinned)["image"] == DIGEST_REF
    # Only the image differs from the committed overlay.
    for manifest in pinned:
        serving = manifest["kind"] == "Deployment"
        if serving:
            manifest = copy.deepcopy(manifest)
            serving_container([manifest])["image"] = serving_container(overlays["production"])[
                "image"
            ]
        assert manifest in overlays["production"], manifest["kind"]
    assert {p: p.read_bytes() for p in (REPO / "deploy").rglob("*") if p.is_file()} == committed


def _repo_copy(tmp_path: Path) -> Path:
    # The Makefile's paths are relative, so `make -f` from a copy renders the copy's deploy/.
    # Everything else is a symlink: the virtualenv's requirements stamp sees the same files.
    root = tmp_path / "repo"
    root.mkdir()
    shutil.copytree(REPO / "deploy", root / "deploy")
    for entry in REPO.iterdir():
        if entry.name not in ("deploy", ".git", "build"):
            (root / entry.name).symlink_to(entry)
    return root


@pytest.mark.parametrize(
    ("image_ref", "why"),
    [
        ("ghcr.io/acme/churn:latest", "not latest"),
        ("ghcr.io/acme/churn", "must be <repo>@sha256:<digest> or <repo>:<tag>"),
        ("ghcr.io/acme/churn@sha256:abc", "must be <repo>@sha256:<digest>"),
        ('ghcr.io/acme/churn:v1"; touch pwned; "', "must be"),
    ],
)
def test_image_ref_that_is_not_pinned_is_refused_and_nothing_written(
    tmp_path: Path, image_ref: str, why: str
) -> None:
    out = tmp_path / "out.yaml"
    result = make_render(out, "staging", image_ref=image_ref, cwd=_repo_copy(tmp_path))
    assert result.returncode != 0
    assert f"k8s-render: IMAGE_REF '{image_ref}' " in result.stderr
    assert why in result.stderr
    assert not out.exists()
    assert not (tmp_path / "repo" / "pwned").exists()


def test_unknown_overlay_is_refused_naming_the_ones_that_exist(tmp_path: Path) -> None:
    result = make_render(tmp_path / "out.yaml", "prod")
    assert result.returncode != 0
    assert "k8s-render: OVERLAY 'prod' is not one of: " + " ".join(OVERLAYS) in result.stderr
    assert not (tmp_path / "out.yaml").exists()


def test_k8s_validate_passes_on_the_committed_overlays(tmp_path: Path) -> None:
    result = run_make("k8s-validate", cwd=_repo_copy(tmp_path))
    assert result.returncode == 0, result.stderr
    for overlay in OVERLAYS:
        assert f"k8s-validate: deploy/overlays/{overlay}: 5 objects valid" in result.stdout


@pytest.mark.parametrize(
    ("file", "before", "after", "reported"),
    [
        # kubernetes-validate only warns about a kind it has no schema for: the target fails.
        ("hpa.yaml", "autoscaling/v2", "autoscaling/v9", "autoscaling/v9"),
        ("deployment.yaml", "livenessProbe:", "livenesProbe:", "'livenesProbe' was unexpected"),
    ],
)
def test_k8s_validate_fails_naming_what_kubernetes_would_refuse(
    tmp_path: Path, file: str, before: str, after: str, reported: str
) -> None:
    root = _repo_copy(tmp_path)
    path = root / "deploy" / "base" / file
    path.write_text(path.read_text(encoding="utf-8").replace(before, after), encoding="utf-8")
    result = run_make("k8s-validate", cwd=root)
    assert result.returncode != 0
    assert reported in result.stderr
    assert f"does not validate against Kubernetes {make_variable('K8S_VERSION')}" in result.stderr


def test_the_thread_count_follows_a_changed_cpu_limit(tmp_path: Path) -> None:
    root = _repo_copy(tmp_path)
    deployment = root / "deploy" / "base" / "deployment.yaml"
    text = deployment.read_text(encoding="utf-8").replace('cpu: "1"', 'cpu: "3"')
    deployment.write_text(text, encoding="utf-8")
    objects = render(tmp_path / "out.yaml", "staging", cwd=root)
    env = {e["name"]: e.get("value") for e in serving_container(objects)["env"]}
    assert env["OMP_NUM_THREADS"] == env["MLSHIP_THREADS"] == "3"


def test_rendering_is_deterministic(tmp_path: Path) -> None:
    digests = set()
    for name in ("a.yaml", "b.yaml"):
        result = make_render(tmp_path / name, "production")
        assert result.returncode == 0, result.stderr
        digests.add(hashlib.sha256((tmp_path / name).read_bytes()).hexdigest())
    assert len(digests) == 1
