"""A release canaries the tagged commit's model: found or registered by commit and model md5."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from mlflow import MlflowClient
from registry_helpers import log_runs

from mlship.config import Params
from mlship.errors import ExitCode, ParamsError, ReleaseMismatch
from mlship.registry import CHALLENGER, Registry
from mlship.rollout.cli import main as rollout_main

_names = (f"release-{i}" for i in itertools.count())


@pytest.fixture(scope="module", name="store")
def _store(
    trained_project: tuple[Path, Params], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, list[str], Params]]:
    """A SQLite tracking store with two logged runs of the project's model."""
    uri = f"sqlite:///{tmp_path_factory.mktemp('release') / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", uri)
        root, params = trained_project
        yield uri, log_runs(root, params, 2), params


@pytest.fixture(name="registry")
def _registry(store: tuple[str, list[str], Params], monkeypatch: pytest.MonkeyPatch) -> Registry:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store[0])
    return Registry(MlflowClient(tracking_uri=store[0], registry_uri=store[0]), next(_names))


def _lineage(registry: Registry, run_id: str) -> tuple[str, str]:
    tags = registry.client.get_run(run_id).data.tags
    return tags["mlship.git_commit"], tags["mlship.model_md5"]


def test_the_registered_version_of_the_commit_and_md5_becomes_the_challenger(
    registry: Registry, store: tuple[str, list[str], Params]
) -> None:
    _, runs, params = store
    released = registry.register(runs[0])
    registry.clear_challenger()  # as after a rejected rollout: the alias holds nothing
    commit, md5 = _lineage(registry, runs[0])
    assert registry.release_version(params.tracking.experiment, commit, md5) == released
    assert registry.version_for(CHALLENGER) == released
    assert len(registry.versions()) == 1  # found, nothing registered again


def test_a_run_of_the_commit_with_the_image_md5_is_registered_when_no_version_exists(
    registry: Registry, store: tuple[str, list[str], Params]
) -> None:
    _, runs, params = store
    commit, md5 = _lineage(registry, runs[0])
    version = registry.release_version(params.tracking.experiment, commit, md5)
    assert registry.version_for(CHALLENGER) == version == "1"
    tags = registry.client.get_model_version(registry.name, version).tags
    assert (tags["git_sha"], tags["model_md5"]) == (commit, md5)
    assert registry.client.get_model_version(registry.name, version).run_id in runs


def test_an_image_whose_model_is_not_the_commits_is_refused_naming_both_hashes(
    registry: Registry, store: tuple[str, list[str], Params]
) -> None:
    _, runs, params = store
    registry.register(runs[0])
    commit, md5 = _lineage(registry, runs[0])
    other = "0" * 32
    with pytest.raises(ReleaseMismatch) as raised:
        registry.release_version(params.tracking.experiment, commit, other)
    message = str(raised.value)
    assert other in message and md5 in message and commit[:12] in message
    assert raised.value.exit_code == ExitCode.RELEASE_MISMATCH
    assert registry.version_for(CHALLENGER) == "1"  # untouched
    assert len(registry.versions()) == 1


def test_a_commit_nothing_was_trained_from_is_refused_and_nothing_registered(
    registry: Registry, store: tuple[str, list[str], Params]
) -> None:
    _, runs, params = store
    _, md5 = _lineage(registry, runs[0])
    with pytest.raises(ReleaseMismatch, match="no finished run .* built from commit abcdef0123ab"):
        registry.release_version(params.tracking.experiment, "abcdef0123" * 4, md5)
    assert registry.versions() == []


@pytest.mark.parametrize("commit", ["v1.2.0", "abc", "' or 1=1 --"])
def test_a_commit_that_is_not_a_full_sha_is_a_params_error(
    registry: Registry, store: tuple[str, list[str], Params], commit: str
) -> None:
    with pytest.raises(ParamsError, match="40 hex digits"):
        registry.release_version(store[2].tracking.experiment, commit, "0" * 32)


def test_rollout_refuses_a_commit_without_the_model_md5_before_any_call(
    in_project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MLSHIP_ADMIN_TOKEN", "token")
    assert rollout_main(["--url", "http://127.0.0.1:9", "--commit", "a" * 40]) == 8
    assert "--commit and --model-md5 go together" in capsys.readouterr().err
