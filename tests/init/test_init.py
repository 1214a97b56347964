"""`mlship init` on tables the project never saw, then the pipeline, the gate's judgement and the
service, with no file edited by hand: one representative case per task here (fast tier); the
whole matrix through `make pipeline` is in test_init_pipeline.py (system tier)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from fastapi.testclient import TestClient
from init_datasets import DATASETS, Dataset

from mlship.config import TASK_METRICS, TASK_PLOTS, load_params
from mlship.gate import cli as gate
from mlship.init import cli
from mlship.serving.app import create_app
from mlship.serving.settings import ServeSettings
from mlship.stages import evaluate, split, train, validate

REPO = Path(__file__).resolve().parents[2]


def new_project(root: Path) -> Path:
    """A fresh clone's files that init edits, committed in a git + DVC repository."""
    root.mkdir()
    for name in ("params.yaml", "schema.yaml", "dvc.yaml", "data.dvc", ".gitignore"):
        shutil.copy(REPO / name, root / name)
    shutil.copytree(REPO / ".dvc", root / ".dvc", ignore=shutil.ignore_patterns("tmp", "cache"))
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t"}
    env |= {"GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    for command in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "x"]):
        subprocess.run(command, cwd=root, check=True, env=env)
    return root


@pytest.fixture(name="project")
def _project(tmp_path: Path) -> Iterator[Path]:
    cwd = Path.cwd()
    os.chdir(new_project(tmp_path / "repo"))
    try:
        yield tmp_path / "repo"
    finally:
        os.chdir(cwd)


def init(dataset: Dataset, source: Path, *extra: str) -> int:
    args = [str(source), "--target", dataset.target, *dataset.options, *extra]
    return cli.main(args)


# One case per task; CSV and Parquet both read. The rest of the matrix is in the system tier.
FAST = ["wine.csv", "cancer.csv", "synthetic.parquet"]


@pytest.mark.parametrize("case", FAST)
def test_init_then_pipeline_gate_and_service_need_no_edit(
    case: str, project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name, suffix = case.split(".")
    dataset = DATASETS[name]
    source = dataset.write(tmp_path / f"{name}.{suffix}")
    assert init(dataset, source) == 0
    said = capsys.readouterr().out
    assert f"task: {dataset.task} (" in said
    assert (project / "data" / source.name).is_file() and (project / "data.dvc").is_file()

    params = load_params(Path("params.yaml"))  # what every stage reads, dvc.yaml checked too
    assert params.data.task == dataset.task
    assert params.data.positive_label == dataset.positive_label
    params = params.model_copy(
        update={"tracking": params.tracking.model_copy(update={"enabled": False})}
    )
    report = validate.run(params)
    assert report.to_dict()["dropped_missing_target"] == dataset.missing_targets
    dropped = f"; {dataset.missing_targets} row(s) without a target dropped)"
    assert (dropped in capsys.readouterr().out) == bool(dataset.missing_targets)
    split.run(params)
    train.run(params)
    metrics = evaluate.run(params)
    assert set(metrics) == set(TASK_METRICS[dataset.task])
    drawn = {path.name for path in params.paths.plots_dir.glob("*.csv")}
    assert drawn == set(TASK_PLOTS[dataset.task])

    # main's outputs as `mlship baseline` lays them out, here the same model: the real gate
    # then judges init's floors and finds no change.
    baseline = params.gate.baseline_dir
    baseline.mkdir(parents=True)
    for name in ("predictions.csv", "holdout.json"):
        shutil.copy(params.paths.eval_dir / name, baseline / name)
    shutil.copy("params.yaml", baseline / "params.yaml")
    verdict = gate.run(params)
    assert (verdict.verdict, verdict.mode) == ("pass", "no_change"), verdict.to_markdown()
    assert {m.name for m in verdict.metrics} == set(params.gate.metrics)

    settings = ServeSettings(champion=str(params.paths.model_dir))
    record = dataset.frame[params.data.features].iloc[0].to_dict()  # the service's fields
    record = {key: (None if pd.isna(value) else value) for key, value in record.items()}
    with TestClient(create_app(settings)) as client:
        answer = client.post("/predict", json=record)
        openapi = client.get("/openapi.json").json()
    assert answer.status_code == 200, answer.text
    if dataset.task == "multiclass":  # class -> probability, the classes named in the schema
        names = [str(label) for label in dataset.classes]
        assert sorted(answer.json()["probabilities"]) == names
        assert sum(answer.json()["probabilities"].values()) == pytest.approx(1.0)
        shape = openapi["components"]["schemas"]["Prediction"]["properties"]["probabilities"]
        assert shape["anyOf"][0]["propertyNames"]["enum"] == names
    if dataset.task == "regression":
        assert isinstance(answer.json()["prediction"], float)
    else:
        assert str(answer.json()["prediction"]) in {str(v) for v in dataset.classes}


def test_init_keeps_an_edited_schema_unless_forced(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dataset = DATASETS["wine"]
    source = dataset.write(tmp_path / "wine.csv")
    Path("schema.yaml").write_text("columns: {}\n", encoding="utf-8")  # someone's edit
    before = Path("params.yaml").read_text(encoding="utf-8")
    assert init(dataset, source) == 2
    assert "schema.yaml changed since committed" in capsys.readouterr().err
    assert Path("params.yaml").read_text(encoding="utf-8") == before  # nothing half-written
    assert init(dataset, source, "--force") == 0
    # init's own output is not an edit: running it again needs no --force.
    assert init(dataset, source) == 0


def test_init_keeps_the_comments_of_params_it_does_not_set(project: Path, tmp_path: Path) -> None:
    dataset = DATASETS["diabetes"]
    assert init(dataset, dataset.write(tmp_path / "d.csv")) == 0
    text = Path("params.yaml").read_text(encoding="utf-8")
    assert "# prediction-distribution shift (PSI) vs the champion" in text
    raw: dict[str, Any] = yaml.safe_load(text)
    assert raw["gate"]["metrics"]["r2"]["floor"] == 0.0
    assert raw["registry"]["key_metrics"] == ["rmse", "mae", "r2"]
    assert raw["split"]["stratify"] is False
    assert raw["validate"]["min_rows"] == len(dataset.frame) // 2


def test_a_misspelt_target_is_named_with_the_closest_column(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = DATASETS["wine"].write(tmp_path / "wine.csv")
    assert cli.main([str(source), "--target", "targt"]) == 2
    assert "did you mean 'target'?" in capsys.readouterr().err
    assert not (project / "data").exists()


def test_the_schema_bounds_widen_the_observed_range_and_list_categories(
    project: Path, tmp_path: Path
) -> None:
    dataset = DATASETS["synthetic"]
    assert init(dataset, dataset.write(tmp_path / "s.csv")) == 0
    rules = yaml.safe_load(Path("schema.yaml").read_text(encoding="utf-8"))["columns"]
    observed = dataset.frame["size"]
    assert rules["size"]["min"] <= observed.min() and rules["size"]["max"] >= observed.max()
    assert rules["size"]["min"] >= 0  # a non-negative column stays non-negative
    assert rules["city"] == {
        "allowed": sorted(dataset.frame["city"].dropna().unique()),
        "nullable": True,
    }
    assert rules["listing"] == {"nullable": False, "unique": True}
    assert np.isnan(dataset.frame["price"]).any() and "nullable" not in rules["price"]


def test_init_names_every_file_to_commit_and_only_the_params_of_its_task(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dataset = DATASETS["diabetes"]  # regression: no decision threshold to choose
    assert init(dataset, dataset.write(tmp_path / "d.csv")) == 0
    said = capsys.readouterr().out
    assert "evaluate.threshold" not in said
    advice = next(line for line in said.splitlines() if "next: make pipeline" in line)
    files = advice.split("git add ", 1)[1].split()
    assert "data.dvc" in files
    subprocess.run(["git", "add", *files], cwd=project, check=True)
    left = subprocess.run(
        ["git", "status", "--porcelain"], cwd=project, check=True, capture_output=True, text=True
    ).stdout
    assert [line for line in left.splitlines() if not line.startswith(("M ", "A "))] == []
