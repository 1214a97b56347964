"""Bad input at the command line: a non-zero exit, one clear message, and no partial output."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from mlship.data.generate import generate_churn
from mlship.stages import evaluate, split, train, validate

Main = Callable[[Sequence[str] | None], int]
DATA = Path("data/churn.csv")


def write_data(frame: pd.DataFrame) -> None:
    DATA.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(DATA, index=False)


def edit_params(change: Callable[[dict[str, object]], None]) -> None:
    raw = yaml.safe_load(Path("params.yaml").read_text(encoding="utf-8"))
    change(raw)
    Path("params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")


def fails(main: Main, capsys: pytest.CaptureFixture[str], code: int) -> list[str]:
    """Run a stage's main, check its exit code, and return its stderr lines."""
    assert main([]) == code
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert lines, "a failure must say why"
    assert "Traceback" not in captured.err
    return lines


def outputs(root: Path) -> set[str]:
    """Every file under the project except its inputs."""
    inputs = {"params.yaml", "schema.yaml", str(DATA)}
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()} - inputs


def no_temp_files(root: Path) -> bool:
    return not [p for p in root.rglob("*") if p.name.endswith(".tmp")]


@pytest.fixture()
def churn() -> pd.DataFrame:
    return generate_churn(400, seed=9)


@pytest.fixture()
def unevaluated_project(project_copy: Path) -> Path:
    """A copy of the trained project, as the cwd, without the evaluate stage's outputs."""
    for outputs_dir in ("artifacts/eval", "plots"):
        shutil.rmtree(project_copy / outputs_dir)
    return project_copy


@pytest.mark.parametrize("stage", [validate.main, split.main, train.main, evaluate.main])
def test_misspelled_params_key_stops_every_stage_naming_the_key(
    in_project: Path, churn: pd.DataFrame, capsys: pytest.CaptureFixture[str], stage: Main
) -> None:
    write_data(churn)
    edit_params(lambda raw: raw["train"].update(modle="linear"))  # type: ignore[attr-defined]
    lines = fails(stage, capsys, code=2)
    assert len(lines) == 1
    assert lines[0].endswith("error: params.yaml: unknown key 'train.modle'")
    assert outputs(in_project) == set()


def test_missing_column_fails_validation_naming_it(
    in_project: Path, churn: pd.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    write_data(churn.drop(columns="monthly_charges"))
    lines = fails(validate.main, capsys, code=3)
    assert lines[0].startswith("mlship validate: error: data/churn.csv failed validation")
    assert "data/churn.csv: column 'monthly_charges': column is missing" in lines
    report = json.loads(Path("reports/validation/validation.json").read_text())
    assert report["valid"] is False
    assert no_temp_files(in_project)


def test_missing_column_stops_split_naming_it(
    in_project: Path, churn: pd.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    write_data(churn.drop(columns="monthly_charges"))
    lines = fails(split.main, capsys, code=3)
    assert len(lines) == 1
    assert "missing column(s) ['monthly_charges']" in lines[0]
    assert outputs(in_project) == set()


def test_text_in_numeric_column_is_named_by_validate_and_split(
    in_project: Path, churn: pd.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = churn.astype({"age": object})
    bad.loc[[5, 6], "age"] = "forty-two"
    write_data(bad)
    lines = fails(validate.main, capsys, code=3)
    assert any("column 'age': wrong type" in line and "'forty-two'" in line for line in lines)
    lines = fails(split.main, capsys, code=3)
    assert lines == [
        "mlship split: error: data/churn.csv: column 'age': 2 value(s) are not numbers, "
        "e.g. ['forty-two']"
    ]
    assert not Path("artifacts").exists()
    assert no_temp_files(in_project)


@pytest.mark.parametrize(("stage", "name"), [(validate.main, "validate"), (split.main, "split")])
def test_empty_file_is_named(
    in_project: Path, capsys: pytest.CaptureFixture[str], stage: Main, name: str
) -> None:
    DATA.parent.mkdir()
    DATA.write_bytes(b"")
    lines = fails(stage, capsys, code=3)
    assert lines == [f"mlship {name}: error: data/churn.csv: data file is empty"]
    assert outputs(in_project) == set()


def test_missing_data_file_is_named(in_project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = fails(validate.main, capsys, code=3)
    assert lines == ["mlship validate: error: data/churn.csv: data file not found"]


def test_all_null_column_fails_validation_naming_it(
    in_project: Path, churn: pd.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    write_data(churn.assign(avg_session_minutes=np.nan))
    lines = fails(validate.main, capsys, code=3)
    assert (
        "data/churn.csv: column 'avg_session_minutes': more than 50% of values are missing "
        "(400 row(s)), e.g. 100.0% missing"
    ) in lines
    assert not Path("artifacts").exists()


def test_invalid_hyperparameter_value_trains_nothing(
    in_project: Path, churn: pd.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    write_data(churn)
    assert split.main([]) == 0
    edit_params(lambda raw: raw["train"]["hyperparams"].update(max_iter=-5))  # type: ignore[index]
    lines = fails(train.main, capsys, code=2)
    assert len(lines) == 1
    assert "'train.hyperparams'" in lines[0] and "max_iter" in lines[0]
    assert not Path("artifacts/model").exists()
    assert no_temp_files(in_project)


def test_train_without_a_split_names_the_missing_file(
    in_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = fails(train.main, capsys, code=3)
    assert lines == ["mlship train: error: artifacts/split/train.parquet: data file not found"]
    assert outputs(in_project) == set()


def test_class_too_rare_to_split_is_a_clear_error(
    in_project: Path, churn: pd.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    churn["churned"] = 0
    churn.loc[0, "churned"] = 1  # one positive row cannot be on both sides of a stratified split
    write_data(churn)
    lines = fails(split.main, capsys, code=3)
    assert len(lines) == 1
    assert lines[0].startswith("mlship split: error: data/churn.csv: cannot split:")
    assert outputs(in_project) == set()


def test_unseen_category_at_evaluation_still_gets_predictions(
    project_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    test_set = pd.read_parquet("artifacts/split/test.parquet")
    test_set.loc[::3, "region"] = "atlantis"  # a region the model never saw
    test_set.loc[1::3, "contract"] = "lifetime"
    test_set.to_parquet("artifacts/split/test.parquet", index=False)

    assert evaluate.main([]) == 0  # with warnings as errors, so no warning escaped either
    assert capsys.readouterr().err == ""
    predictions = pd.read_csv("artifacts/eval/predictions.csv")
    assert len(predictions) == len(test_set)
    assert predictions["score"].between(0, 1).all()
    assert json.loads(Path("metrics.json").read_text())["roc_auc"] > 0.6


def test_evaluate_without_a_model_names_the_missing_file(
    in_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = fails(evaluate.main, capsys, code=4)
    assert lines == [
        "mlship evaluate: error: artifacts/model/model.json: cannot read model metadata "
        "(No such file or directory)"
    ]
    assert outputs(in_project) == set()


def test_evaluate_refuses_a_model_trained_for_other_features(
    unevaluated_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = Path("metrics.json").read_bytes()
    edit_params(lambda raw: raw["data"]["categorical"].remove("region"))  # type: ignore[index]
    lines = fails(evaluate.main, capsys, code=4)
    assert len(lines) == 1
    assert "trained for another task or other features" in lines[0]
    assert "run `mlship train` again" in lines[0]
    assert Path("metrics.json").read_bytes() == before  # the old metrics stay as they were
    assert not Path("artifacts/eval").exists()


def test_train_on_a_split_made_for_other_features_names_the_column(
    in_project: Path, churn: pd.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    write_data(churn.assign(score=1.0))
    assert split.main([]) == 0
    capsys.readouterr()
    edit_params(lambda raw: raw["data"]["numeric"].append("score"))  # type: ignore[index]
    lines = fails(train.main, capsys, code=3)
    assert len(lines) == 1
    assert "artifacts/split/train.parquet: missing column(s) ['score']" in lines[0]
    assert not Path("artifacts/model").exists()


def test_evaluate_refuses_a_holdout_with_a_single_class(
    unevaluated_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    test_set = pd.read_parquet("artifacts/split/test.parquet")
    test_set[test_set["churned"] == 0].to_parquet("artifacts/split/test.parquet", index=False)
    lines = fails(evaluate.main, capsys, code=3)
    assert len(lines) == 1
    assert "held-out rows hold a single class" in lines[0]
    assert not Path("artifacts/eval").exists()
    # split.stratify is already true here: the advice must not be to set it.
    assert "split.stratify" not in lines[0]


def test_a_duplicate_key_in_params_is_an_error_naming_the_key_and_lines(
    in_project: Path, churn: pd.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    write_data(churn)
    text = Path("params.yaml").read_text(encoding="utf-8")
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("split:"))
    lines.insert(at + 1, "  test_size: 0.5")
    Path("params.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    first = at + 2
    second = first + next(
        i for i, line in enumerate(lines[at + 2 :], start=1) if "test_size" in line
    )
    message = fails(split.main, capsys, code=2)
    assert message == [
        f"mlship split: error: params.yaml: line {second}: duplicate key 'test_size' "
        f"(first on line {first})"
    ]
    assert outputs(in_project) == set()


@pytest.mark.parametrize("stratify", [True, False])
def test_a_test_split_too_small_for_every_class_fails_at_split_with_the_right_advice(
    in_project: Path,
    churn: pd.DataFrame,
    capsys: pytest.CaptureFixture[str],
    stratify: bool,
) -> None:
    write_data(churn)

    def tiny_test_side(raw: dict[str, object]) -> None:
        section: dict[str, object] = raw["split"]  # type: ignore[assignment]
        section.update(test_size=0.0001, stratify=stratify)

    edit_params(tiny_test_side)
    lines = fails(split.main, capsys, code=2)
    assert len(lines) == 1
    assert "split.test_size=0.0001 holds 1 of 400 rows, fewer than the 2 classes" in lines[0]
    assert "raise split.test_size to at least 0.005" in lines[0]
    assert "stratify" not in lines[0]
    assert outputs(in_project) == set()


def test_a_test_split_too_small_for_every_class_fails_already_at_validate(
    in_project: Path, churn: pd.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    write_data(churn)

    def tiny_test_side(raw: dict[str, object]) -> None:
        section: dict[str, object] = raw["split"]  # type: ignore[assignment]
        section.update(test_size=0.0001)

    edit_params(tiny_test_side)
    lines = fails(validate.main, capsys, code=2)
    assert lines == [
        f"mlship validate: error: {DATA}: split.test_size=0.0001 holds 1 of 400 rows, fewer than "
        "the 2 classes, so the held-out rows cannot hold every class; raise split.test_size to "
        "at least 0.005"
    ]
    assert outputs(in_project) == set()


def test_a_non_utf8_byte_in_the_data_names_its_line(
    in_project: Path, churn: pd.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    write_data(churn)
    data = DATA.read_bytes().splitlines(keepends=True)
    data[7] = data[7].replace(b",", b",\xfc", 1)
    DATA.write_bytes(b"".join(data))
    lines = fails(validate.main, capsys, code=3)
    assert len(lines) == 1
    assert f"{DATA}: line 8, byte" in lines[0] and "0xfc is not UTF-8" in lines[0]
