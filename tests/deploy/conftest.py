"""The overlays as `make k8s-render` writes them, rendered once per session."""

from __future__ import annotations

import pytest
from k8s_support import OVERLAYS, Manifest, render


@pytest.fixture(scope="session", name="overlays")
def _overlays(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Manifest]]:
    out = tmp_path_factory.mktemp("k8s")
    return {overlay: render(out / f"{overlay}.yaml", overlay) for overlay in OVERLAYS}
