"""Render the kustomize overlays with the real `make k8s-render` and pick objects out of them."""

from __future__ import annotations

import os
import re
import subprocess  # nosec B404
import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
OVERLAYS = sorted(
    p.parent.name for p in (REPO / "deploy" / "overlays").glob("*/kustomization.yaml")
)
VENV = Path(sys.executable).parent.parent
Manifest = dict[str, Any]


def run_make(target: str, *assignments: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    """Run a target of the repo's Makefile from `cwd` (its paths are relative: a copy works)."""
    return subprocess.run(  # nosec B603 B607
        ["make", "--no-print-directory", "-s", "-f", str(REPO / "Makefile"), target]
        + [f"VENV={VENV}", *assignments],
        cwd=cwd,
        env={k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS")},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def make_render(
    out: Path, overlay: str, *, components: str = "", image_ref: str = "", cwd: Path = REPO
) -> subprocess.CompletedProcess[str]:
    """Run `make k8s-render` for `overlay`, writing `out`."""
    return run_make(
        "k8s-render",
        f"OVERLAY={overlay}",
        f"K8S_COMPONENTS={components}",
        f"IMAGE_REF={image_ref}",
        f"K8S_OUT={out}",
        cwd=cwd,
    )


def render(out: Path, overlay: str, **options: Any) -> list[Manifest]:
    """The overlay's objects, as `make k8s-render` writes them."""
    result = make_render(out, overlay, **options)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(out.read_text(encoding="utf-8")) if doc]


def one(objects: list[Manifest], kind: str) -> Manifest:
    """The single object of `kind`."""
    found = [o for o in objects if o["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, got {len(found)}"
    return found[0]


def serving_container(objects: list[Manifest]) -> Manifest:
    """The model service's container in the Deployment."""
    containers = one(objects, "Deployment")["spec"]["template"]["spec"]["containers"]
    return next(c for c in containers if c["name"] == "serve")


def env_of(container: Manifest) -> dict[str, Manifest]:
    """The container's env entries by name."""
    return {entry["name"]: entry for entry in container.get("env", [])}


def cpu_cores(quantity: str | int | float) -> float:
    """A Kubernetes CPU quantity ("2", "1500m", 0.5) in cores."""
    text = str(quantity)
    return int(text[:-1]) / 1000 if text.endswith("m") else float(text)


def dockerfile_value(instruction: str) -> str:
    """The argument of the runtime stage's last `instruction` (USER, WORKDIR, EXPOSE)."""
    text = (REPO / "Dockerfile").read_text(encoding="utf-8")
    values = re.findall(rf"^{instruction}\s+(\S+)", text, flags=re.MULTILINE)
    assert values, f"Dockerfile has no {instruction}"
    return str(values[-1])


def make_variable(name: str) -> str:
    """The default a `NAME ?= value` line of the Makefile gives."""
    text = (REPO / "Makefile").read_text(encoding="utf-8")
    match = re.search(rf"^{name} \?= (\S+)$", text, flags=re.MULTILINE)
    assert match, f"Makefile sets no {name}"
    return match.group(1)
