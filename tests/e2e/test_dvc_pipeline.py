"""`dvc repro` on a copy of this repository: every stage runs, reruns are minimal, runs repeat."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from e2e_repo import copy_repo, edit_params, run

STAGES = ("validate", "split", "train", "evaluate")
SMALL = {"generate.rows": 3000, "validate.min_rows": 100}

# A whole pipeline run for real: handed to a worker first (tests/conftest.py).
pytestmark = pytest.mark.heavy
OUTPUTS = (
    "reports/validation/validation.json",
    "artifacts/split/train.parquet",
    "artifacts/split/test.parquet",
    "artifacts/model/model.skops",
    "artifacts/model/model.json",
    "artifacts/eval/predictions.csv",
    "artifacts/eval/holdout.json",
    "metrics.json",
    "plots/roc.png",
    "plots/importance.csv",
)
# What must be byte-identical between two clean runs of the same code, data and params.
REPRODUCIBLE = (
    "data/churn.csv",
    "artifacts/model/model.skops",
    "artifacts/eval/predictions.csv",
    "metrics.json",
)


@dataclass
class FirstRun:
    """A repository copy after its first `dvc repro`, with what that run printed and wrote."""

    root: Path
    output: str
    digests: dict[str, str]
    lock: str


def digests(root: Path) -> dict[str, str]:
    """SHA-256 of each file that must be reproducible."""
    return {name: hashlib.sha256((root / name).read_bytes()).hexdigest() for name in REPRODUCIBLE}


def ran_stages(output: str) -> list[str]:
    """Names of the stages `dvc repro` says it ran, in order."""
    return [
        stage
        for line in output.splitlines()
        for stage in STAGES
        if line == f"Running stage '{stage}':"
    ]


def fresh_run(root: Path) -> FirstRun:
    """Copy the repo into `root`, pin the small example (`dvc add`) and run the whole pipeline."""
    copy_repo(root, SMALL)
    run(["mlship", "data", "--example"], root)
    run(["dvc", "add", "--quiet", "data"], root)
    output = run(["dvc", "repro"], root).stdout
    return FirstRun(root, output, digests(root), (root / "dvc.lock").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FirstRun]:
    """One repository copy, run once; later tests in this module run it again."""
    yield fresh_run(tmp_path_factory.mktemp("dvc-a") / "repo")


def test_dvc_repro_runs_all_four_stages_and_writes_their_outputs(first_run: FirstRun) -> None:
    assert ran_stages(first_run.output) == list(STAGES)
    missing = [name for name in OUTPUTS if not (first_run.root / name).is_file()]
    assert not missing
    lock = yaml.safe_load(first_run.lock)
    assert sorted(lock["stages"]) == sorted(STAGES)
    assert "MLflow run " in first_run.output


def test_second_dvc_repro_runs_nothing(first_run: FirstRun) -> None:
    output = run(["dvc", "repro"], first_run.root).stdout
    assert ran_stages(output) == []
    assert "Data and pipelines are up to date." in output
    assert digests(first_run.root) == first_run.digests


def test_changing_a_train_param_reruns_only_train_and_evaluate(first_run: FirstRun) -> None:
    edit_params(first_run.root, {"train.hyperparams.max_iter": 50})
    output = run(["dvc", "repro"], first_run.root).stdout
    assert ran_stages(output) == ["train", "evaluate"]
    after = digests(first_run.root)
    assert after["data/churn.csv"] == first_run.digests["data/churn.csv"]
    assert after["artifacts/model/model.skops"] != first_run.digests["artifacts/model/model.skops"]


def test_two_clean_runs_give_byte_identical_model_metrics_and_predictions(
    first_run: FirstRun, tmp_path: Path
) -> None:
    # A different directory, a different MLflow store, the same code, data and params.
    second = fresh_run(tmp_path / "elsewhere" / "repo")
    assert ran_stages(second.output) == list(STAGES)
    assert second.digests == first_run.digests
    # dvc.lock holds the hash of every output (plots and reports included): all identical.
    assert second.lock == first_run.lock
