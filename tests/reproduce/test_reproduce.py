"""`mlship reproduce`: a version registered from a real pipeline run, rebuilt from its lineage."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from path_import import import_file

from mlship.errors import ExitCode
from mlship.reproduce.cli import main
from mlship.reproduce.lineage import Lineage, Rebuilt, differences, locked_versions

e2e_repo = import_file("mlship_e2e_repo", Path(__file__).resolve().parents[1] / "e2e/e2e_repo.py")
SMALL = {"generate.rows": 3000, "validate.min_rows": 100}

# A whole pipeline run for real: handed to a worker first (tests/conftest.py).
pytestmark = pytest.mark.heavy


@dataclass
class Registered:
    """A committed project whose pipeline ran with tracking and whose run is version 1."""

    root: Path
    env: dict[str, str]


def _train_and_register(registered: Registered) -> None:
    """`make repro` with tracking on, then `make train-register`, as train.yml runs them."""
    e2e_repo.run(["mlship", "data"], registered.root, registered.env)
    e2e_repo.run(["dvc", "repro"], registered.root, registered.env)
    e2e_repo.run(["mlship", "registry", "register"], registered.root, registered.env)


@pytest.fixture(scope="module", name="registered")
def _registered(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registered]:
    root = e2e_repo.copy_repo(tmp_path_factory.mktemp("reproduce") / "repo", SMALL)
    env = e2e_repo.tool_env(root)
    # data.dvc pins the small example (in the DVC cache only, as after a `dvc pull`).
    e2e_repo.run(["mlship", "data", "--example"], root, env)
    e2e_repo.run(["dvc", "add", "--quiet", "data"], root, env)
    e2e_repo.run(["git", "add", "data.dvc", ".gitignore"], root, env)
    e2e_repo.run(["git", "commit", "--quiet", "-m", "pin the small example"], root, env)
    registered = Registered(root, env)
    _train_and_register(registered)
    yield registered


@pytest.fixture(name="in_registered")
def _in_registered(registered: Registered, monkeypatch: pytest.MonkeyPatch) -> Registered:
    monkeypatch.chdir(registered.root)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", registered.env["MLFLOW_TRACKING_URI"])
    return registered


def test_a_version_from_a_pipeline_run_is_rebuilt_byte_identical(
    in_registered: Registered, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.rmtree(in_registered.root / "data")  # only the DVC cache holds the pinned bytes now
    assert main(["1"]) == ExitCode.OK
    out = capsys.readouterr().out
    recorded = (in_registered.root / "artifacts/model/model.skops").read_bytes()
    md5 = hashlib.md5(recorded, usedforsecurity=False).hexdigest()
    assert f"version 1 rebuilt byte-identical (model md5 {md5})" in out


def test_a_version_trained_from_uncommitted_params_is_reported_with_what_differs(
    in_registered: Registered, capsys: pytest.CaptureFixture[str]
) -> None:
    # Trained in a dirty tree: the run records HEAD, but HEAD's params build another model.
    e2e_repo.edit_params(in_registered.root, {"train.hyperparams.max_iter": 20})
    try:
        _train_and_register(in_registered)
    finally:
        e2e_repo.run(["git", "checkout", "--", "params.yaml"], in_registered.root)
    assert main(["2"]) == ExitCode.NOT_REPRODUCED
    err = capsys.readouterr().err
    assert "version 2 is NOT reproduced from commit" in err
    assert "model file md5: registry " in err
    assert "metric roc_auc: registry " in err


def test_an_unknown_version_is_one_line_with_the_registry_code(
    in_registered: Registered, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["99"]) == ExitCode.MLFLOW
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no version '99' of 'churn'" in err[0]


def test_differences_name_the_model_data_and_each_metric_that_changed() -> None:
    recorded = Lineage("3", "a" * 40, "d1", "m1", {"roc_auc": 0.8, "f1": 0.5})
    # metrics.json keeps 6 decimals: a figure equal to that precision is the same figure.
    same = Rebuilt("d1", "m1", {"roc_auc": 0.8000004, "f1": 0.5})
    assert not differences(recorded, same)
    other = Rebuilt("d2", "m2", {"roc_auc": 0.81})
    assert differences(recorded, other) == [
        "model file md5: registry m1, rebuilt m2",
        "training rows md5: registry d1, rebuilt d2",
        "metric f1: registry 0.5, rebuilt absent",
        "metric roc_auc: registry 0.8, rebuilt 0.81",
    ]


def test_locked_versions_reads_hashed_pins_and_skips_markers_that_do_not_apply() -> None:
    lock = (
        "# via uv\nnumpy==2.1.0 \\\n    --hash=sha256:aa \\\n    --hash=sha256:bb\n"
        "pywin32==306 ; sys_platform == 'win32' \\\n    --hash=sha256:cc\n"
        "Scikit_Learn==1.6.0 \\\n    --hash=sha256:dd\n"
    )
    assert locked_versions(lock) == {"numpy": "2.1.0", "scikit-learn": "1.6.0"}
