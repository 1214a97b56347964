"""Shared fixtures: small synthetic projects built with the real stages in a temp directory."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tiers
import yaml

from mlship.config import Params, parse_params
from mlship.gate import baseline

REPO = Path(__file__).resolve().parents[1]
# `--shard K/N` and `--record-durations` (tests/shards.py): the fast tier in parts for ci.yml.
pytest_plugins = ["shards"]


def tier_of(item: pytest.Item) -> str:
    """The one tier a test is in; a test marked with both is an error naming it."""
    marked = {mark.name for mark in item.iter_markers() if mark.name in tiers.TIERS}
    if len(marked) > 1:
        raise pytest.UsageError(f"{item.nodeid} is marked both fast and system: pick one tier")
    return marked.pop() if marked else tiers.FAST


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test not marked `system` as `fast`, so `-m fast` and `-m system` split them.

    Tests marked `heavy` (whole pipelines run for real) come first: `make test-fast` hands files
    to its workers in this order, so the longest start at once instead of last, when the other
    worker would sit idle waiting for them.
    """
    for item in items:
        if tier_of(item) == tiers.FAST:
            item.add_marker(pytest.mark.fast)
    items.sort(key=lambda item: item.get_closest_marker("heavy") is None)  # stable


@pytest.hookimpl(tryfirst=True)  # before the test's fixtures start anything
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Record the tier of the test about to run, for `tiers.require_system`."""
    tiers.running = tier_of(item)


def project_params(overrides: dict[str, Any] | None = None, rows: int = 3000) -> dict[str, Any]:
    """The repo's params.yaml, with a small dataset, tracking off and `overrides` per section."""
    raw: dict[str, Any] = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    raw["generate"]["rows"] = rows
    raw["validate"]["min_rows"] = 100
    raw["tracking"]["enabled"] = False
    for section, values in (overrides or {}).items():
        if isinstance(values, dict) and isinstance(raw.get(section), dict):
            raw[section] = {**raw[section], **values}
        else:
            raw[section] = values
    return raw


def make_project(root: Path, raw: dict[str, Any]) -> Params:
    """Lay out a project directory (params.yaml, schema.yaml) under `root`; return its params."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "schema.yaml", root / "schema.yaml")
    (root / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return parse_params(raw)


def run_pipeline(params: Params, with_data: bool = True) -> dict[str, float]:
    """Run data (optionally), validate, split, train and evaluate in the current directory."""
    # pylint: disable=import-outside-toplevel
    from mlship.stages import data, evaluate, split, train, validate

    if with_data:
        data.write_example(params)
    validate.run(params)
    split.run(params)
    train.run(params)
    return evaluate.run(params)


@pytest.fixture(autouse=True)
def _isolated_mlflow(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Never let a test write into the developer's MLflow store or a configured server."""
    store = tmp_path_factory.mktemp("mlflow")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store / 'mlflow.db'}")
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)


@pytest.fixture(scope="session")
def trained_project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Params]]:
    """A project with the example data (3,000 rows) run through every stage, shared read-only."""
    root = tmp_path_factory.mktemp("project")
    params = make_project(root, project_params())
    cwd = Path.cwd()
    os.chdir(root)
    try:
        run_pipeline(params)
    finally:
        os.chdir(cwd)
    yield root, params


@pytest.fixture()
def in_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh project directory (params.yaml and schema.yaml, no data yet) as the cwd."""
    make_project(tmp_path, project_params())
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture()
def project_copy(
    trained_project: tuple[Path, Params], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """A private copy of the trained project as the cwd, for tests that change its files."""
    root = tmp_path / "project"
    shutil.copytree(trained_project[0], root)
    monkeypatch.chdir(root)
    return root


@pytest.fixture()
def baselined_project(project_copy: Path) -> Path:
    """A copy of the trained project whose main baseline is its own outputs (main == PR)."""
    text = (project_copy / "params.yaml").read_text(encoding="utf-8")
    baseline_dir = project_copy / "reports/baseline"
    baseline_dir.mkdir(parents=True)
    baseline.collect_outputs(project_copy, yaml.safe_load(text), text, baseline_dir)
    return project_copy


@pytest.fixture()
def standin(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The GitHub API stand-in (tests/workflows/github_standin.py), as GITHUB_API_URL."""
    monkeypatch.syspath_prepend(str(REPO / "tests" / "workflows"))
    from github_standin import GitHubStandIn  # pylint: disable=import-outside-toplevel

    github = GitHubStandIn().start()
    monkeypatch.setenv("GITHUB_API_URL", github.url)
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/mlship")
    monkeypatch.setenv("GITHUB_TOKEN", github.token)
    try:
        yield github
    finally:
        github.stop()


@pytest.fixture(scope="session", name="overlays")
def _overlays(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The Kubernetes overlays as `make k8s-render` writes them, rendered once per session."""
    # tests/deploy is on sys.path only while its tests run (pytest's prepend import mode), and a
    # conftest.py of its own would shadow this one as the module `conftest`.
    from k8s_support import OVERLAYS, render  # pylint: disable=import-outside-toplevel

    out = tmp_path_factory.mktemp("k8s")
    return {overlay: render(out / f"{overlay}.yaml", overlay) for overlay in OVERLAYS}
