"""Stages on small projects: data, split and train do what params say, reproducibly."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import make_project, project_params, run_pipeline
from mlship.config import Params, parse_params
from mlship.data.generate import generate_churn
from mlship.stages import data, split, train, validate


def params_with(**sections: dict[str, object]) -> Params:
    return parse_params(project_params(sections))  # type: ignore[arg-type]


def test_data_stage_writes_the_rows_asked_for_byte_for_byte(
    in_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert data.main(["--example", "--rows", "150", "--out", "a.csv"]) == 0
    assert data.main(["--example", "--rows", "150", "--out", "b.csv"]) == 0
    assert Path("a.csv").read_bytes() == Path("b.csv").read_bytes()
    assert len(pd.read_csv("a.csv")) == 150
    assert "wrote 150 rows to a.csv" in capsys.readouterr().out


def test_prepare_drops_unlabelled_rows_and_types_columns() -> None:
    params = params_with()
    frame = generate_churn(50, seed=1).astype({"churned": "float64"})
    frame.loc[[0, 1], "churned"] = np.nan
    prepared = split.prepare(frame, params)
    assert len(prepared) == 48
    assert prepared["churned"].tolist() == frame["churned"].dropna().astype(int).tolist()
    assert prepared["__id__"].iloc[0] == frame["customer_id"].iloc[2]
    assert prepared["region"].map(type).eq(str).all()
    assert prepared["age"].dtype == "float64"


def test_prepare_without_id_column_uses_row_numbers() -> None:
    raw = project_params()
    raw["data"]["id_column"] = None
    prepared = split.prepare(generate_churn(20, seed=1), parse_params(raw))
    assert prepared["__id__"].tolist() == [str(i) for i in range(20)]


def test_split_is_seeded_and_stratified() -> None:
    params = params_with(split={"test_size": 0.25, "seed": 3})
    frame = split.prepare(generate_churn(800, seed=4), params)
    train_a, test_a = split.split_frame(frame, params)
    train_b, test_b = split.split_frame(frame, params)
    pd.testing.assert_frame_equal(test_a, test_b)
    assert len(test_a) == 200 and len(train_a) == 600
    assert abs(test_a["churned"].mean() - frame["churned"].mean()) < 0.01
    assert set(train_a["__id__"]).isdisjoint(test_a["__id__"])
    assert train_b.equals(train_a)


def test_regression_split_ignores_stratify() -> None:
    raw = project_params({"split": {"stratify": True}})
    raw["data"] = {
        "path": "data/churn.csv",
        "task": "regression",
        "target": "monthly_charges",
        "numeric": ["tenure_months"],
        "categorical": ["region"],
    }
    raw["gate"]["metrics"] = {"rmse": {}}  # the example's binary metrics are an error here
    raw["registry"]["key_metrics"] = []
    raw["kpi"] = {}  # the example's KPIs are binary ones too
    params = parse_params(raw)
    frame = split.prepare(generate_churn(300, seed=2), params)
    train_part, test_part = split.split_frame(frame, params)
    assert len(train_part) + len(test_part) == 300  # continuous target: no "too rare class"


def test_float_labels_in_parquet_train_a_model_with_integer_classes(in_project: Path) -> None:
    # Labels stored as 0.0/1.0 must still be the classes 0/1 that positive_label: 1 names.
    raw = project_params({"train": {"model": "linear", "hyperparams": {}}})
    raw["data"]["path"] = "data/churn.parquet"
    params = make_project(in_project, raw)
    Path("data").mkdir()
    generate_churn(400, seed=5).astype({"churned": "float64"}).to_parquet(params.data.path)
    assert validate.run(params).valid
    split.run(params)
    meta = train.run(params)
    assert meta["classes"] == [0, 1]
    assert meta["positive_index"] == 1


def test_train_on_a_sample_records_its_size(in_project: Path) -> None:
    params = params_with(
        train={"model": "linear", "hyperparams": {}, "sample_rows": 120},
    )
    data.write_example(params, rows=400)
    split.run(params)
    meta = train.run(params)
    assert meta["train_rows"] == 120
    saved = json.loads(Path("artifacts/model/model.json").read_text())
    assert saved["train_rows"] == 120
    assert saved["trusted_types"] == meta["trusted_types"]


def test_same_data_and_params_give_byte_identical_model_and_metrics(
    trained_project: tuple[Path, Params], tmp_path: Path
) -> None:
    first, params = trained_project
    second = tmp_path / "again"
    second.mkdir()
    for name in ("params.yaml", "schema.yaml"):
        shutil.copy(first / name, second / name)
    (second / "data").mkdir()
    shutil.copy(first / params.data.path, second / params.data.path)
    cwd = Path.cwd()
    os.chdir(second)
    try:
        run_pipeline(params, with_data=False)
    finally:
        os.chdir(cwd)
    paths = params.paths
    for output in (
        paths.model_dir / "model.skops",
        paths.model_dir / "model.json",
        paths.metrics,
        paths.eval_dir / "predictions.csv",
        paths.split_dir / "test.parquet",
        paths.plots_dir / "roc.png",
    ):
        assert (first / output).read_bytes() == (second / output).read_bytes(), output
