"""The data contract lists every violation at once: column, check, failing rows, examples."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlship.config import DataParams, ValidateParams
from mlship.data.contract import (
    ColumnRule,
    SchemaFile,
    ValidationReport,
    Violation,
    load_schema_file,
    validate_frame,
)
from mlship.data.generate import CATEGORICAL, NUMERIC, generate_churn
from mlship.errors import ParamsError

REPO = Path(__file__).resolve().parents[2]
CHURN = DataParams(
    path=Path("data/churn.csv"),
    task="binary",
    target="churned",
    id_column="customer_id",
    positive_label=1,
    numeric=NUMERIC,
    categorical=CATEGORICAL,
)
RULES = ValidateParams(min_rows=100, min_class_fraction=0.05)
SMALL = DataParams(
    path=Path("d.csv"),
    task="binary",
    target="y",
    id_column="id",
    numeric=("x",),
    categorical=("c",),
)
LOOSE = ValidateParams(min_rows=1, min_class_fraction=0.0)


@pytest.fixture(scope="module")
def schema() -> SchemaFile:
    return load_schema_file(REPO / "schema.yaml")


@pytest.fixture(scope="module")
def churn() -> pd.DataFrame:
    return generate_churn(1000, seed=3)


def check(
    frame: pd.DataFrame,
    data: DataParams = SMALL,
    rules: ValidateParams = LOOSE,
    schema_file: SchemaFile | None = None,
) -> ValidationReport:
    return validate_frame(frame, data, rules, schema_file or SchemaFile(), "d.csv")


def small(**columns: object) -> pd.DataFrame:
    base: dict[str, object] = {"id": [1, 2, 3, 4], "x": [1.0, 2.0, 3.0, 4.0], "c": list("abab")}
    base["y"] = [0, 1, 0, 1]
    base.update(columns)
    return pd.DataFrame(base)


def only(report: ValidationReport, column: str) -> Violation:
    found = [v for v in report.violations if v.column == column]
    assert len(found) == 1, report.violations
    return found[0]


def test_generated_example_data_is_valid(churn: pd.DataFrame, schema: SchemaFile) -> None:
    report = validate_frame(churn, CHURN, RULES, schema, "churn.csv")
    assert report.valid, report.summary()
    assert report.to_dict()["valid"] is True
    assert "✅ passed" in report.to_markdown()


def test_every_violation_is_listed_at_once(churn: pd.DataFrame, schema: SchemaFile) -> None:
    bad = churn.copy()
    bad["age"] = bad["age"].astype(object)
    bad.loc[[1, 2], "age"] = "old"  # wrong type
    bad.loc[[3, 4, 5], "tenure_months"] = -1  # below min
    bad.loc[6, "region"] = "mars"  # not allowed
    bad.loc[7, "contract"] = None  # not nullable
    bad.loc[8, "customer_id"] = bad.loc[9, "customer_id"]  # duplicated id
    bad = bad.drop(columns="has_partner")  # missing column
    report = validate_frame(bad, CHURN, RULES, schema, "churn.csv")

    assert not report.valid
    by_column = {v.column: v for v in report.violations}
    assert set(by_column) == {
        "age",
        "tenure_months",
        "region",
        "contract",
        "customer_id",
        "has_partner",
    }
    assert by_column["age"].check.startswith("wrong type")
    assert by_column["age"].count == 2 and by_column["age"].examples == ["'old'"]
    assert by_column["tenure_months"].count == 3
    assert by_column["tenure_months"].examples == ["'-1.0'"]
    assert "allowed values" in by_column["region"].check
    assert by_column["region"].examples == ["'mars'"]
    assert by_column["contract"].count == 1
    assert by_column["customer_id"].check == "values not unique"
    assert by_column["customer_id"].count == 2
    assert by_column["has_partner"].check == "column is missing"

    summary = report.summary().splitlines()
    assert len(summary) == 6
    assert "churn.csv: column 'has_partner': column is missing" in summary
    table = report.to_markdown()
    assert "❌ failed: 6 violation(s)" in table
    assert "| `tenure_months` |" in table


def test_examples_are_capped_and_deduplicated() -> None:
    frame = small(x=[-1.0, -2.0, -3.0, -1.0])
    rules = ValidateParams(min_rows=1, min_class_fraction=0.0, max_examples=2)
    violation = only(
        check(frame, rules=rules, schema_file=SchemaFile(columns={"x": ColumnRule(min=0)})), "x"
    )
    assert violation.count == 4
    assert violation.examples == ["'-1.0'", "'-2.0'"]


def test_range_rule_reports_values_above_max() -> None:
    report = check(
        small(x=[1.0, 2.0, 300.0, 4.0]), schema_file=SchemaFile(columns={"x": ColumnRule(max=100)})
    )
    violation = only(report, "x")
    assert violation.check.startswith("less_than_or_equal_to")
    assert violation.examples == ["'300.0'"]


def test_allowed_numbers_match_a_target_read_as_numbers_or_text() -> None:
    rule = SchemaFile(columns={"y": ColumnRule(allowed=(0, 1))})
    assert check(small(y=[0, 1, 0, 1]), schema_file=rule).valid
    assert check(small(y=["0", "1", "0", "1"]), schema_file=rule).valid
    data = SMALL.model_copy(update={"task": "multiclass"})
    report = check(small(y=[0, 1, 2, 1]), data=data, schema_file=rule)
    assert only(report, "y").examples == ["'2'"]


def test_allowed_codes_match_a_category_read_as_floats_with_gaps() -> None:
    # A code column with a missing value is read as float (1.0, NaN): still matches [1, 2].
    rule = SchemaFile(columns={"c": ColumnRule(allowed=(1, 2))})
    assert check(small(c=[1.0, np.nan, 2.0, 1.0]), schema_file=rule).valid
    assert not check(small(c=[1.0, np.nan, 3.0, 1.0]), schema_file=rule).valid


def test_nullable_false_counts_missing_values() -> None:
    rule = SchemaFile(columns={"x": ColumnRule(nullable=False)})
    violation = only(check(small(x=[1.0, np.nan, np.nan, 4.0]), schema_file=rule), "x")
    assert violation.check == "not_nullable"
    assert violation.count == 2


def test_missing_values_in_target_are_refused() -> None:
    violation = only(check(small(y=[0, 1, None, 1])), "y")
    assert violation.count == 1


def test_too_many_missing_values_reports_the_share() -> None:
    report = check(small(x=[np.nan, np.nan, np.nan, 1.0]))
    violation = only(report, "x")
    assert "more than 50% of values are missing" in violation.check
    assert violation.count == 3
    assert violation.examples == ["75.0% missing"]


def test_unique_id_column_reports_duplicates() -> None:
    violation = only(check(small(id=[1, 1, 2, 3])), "id")
    assert violation.check == "values not unique"
    assert violation.count == 2


def test_unique_rule_on_a_feature() -> None:
    rule = SchemaFile(columns={"c": ColumnRule(unique=True)})
    assert only(check(small(c=list("aabc")), schema_file=rule), "c").count == 2


def test_too_few_rows_is_a_table_violation() -> None:
    report = check(small(), rules=ValidateParams(min_rows=10, min_class_fraction=0))
    violation = only(report, "(table)")
    assert violation.check == "fewer than 10 rows"
    assert violation.examples == ["4 rows"]


def test_rare_class_is_reported_with_class_shares() -> None:
    frame = pd.DataFrame({"id": range(40), "x": 1.0, "c": "a", "y": [1] + [0] * 39})
    report = check(frame, rules=ValidateParams(min_rows=1, min_class_fraction=0.05))
    violation = only(report, "y")
    assert "at least 5% of rows" in violation.check
    assert violation.examples == ["'1': 2.5%", "'0': 97.5%"]


def test_single_class_target_is_refused() -> None:
    report = check(small(y=[1, 1, 1, 1]))
    assert any("two" in v.check for v in report.violations if v.column == "y")


def test_binary_task_with_three_classes_is_refused_before_training() -> None:
    violation = only(check(small(y=["a", "b", "c", "a"])), "y")
    assert violation.check == "task 'binary' needs exactly two target classes"


def test_positive_label_absent_from_target_is_refused() -> None:
    data = SMALL.model_copy(update={"positive_label": "yes"})
    violation = only(check(small(y=["no", "maybe", "no", "maybe"]), data=data), "y")
    assert "positive_label 'yes' is not a value of the target" in violation.check
    assert check(small(y=["no", "yes", "no", "yes"]), data=data).valid


def test_regression_target_must_be_numeric() -> None:
    data = SMALL.model_copy(update={"task": "regression"})
    assert check(small(y=[1.5, 2.0, 3.0, 4.0]), data=data).valid
    violation = only(check(small(y=[1.5, "high", 3.0, 4.0]), data=data), "y")
    assert violation.check.startswith("wrong type")


def test_report_to_dict_is_json_ready() -> None:
    report = check(small(id=[1, 1, 2, 3]))
    payload = report.to_dict()
    assert payload["valid"] is False
    assert payload["rows"] == 4 and payload["columns"] == 4
    assert payload["violations"][0]["column"] == "id"


def test_schema_file_unknown_key_is_named(tmp_path: Path) -> None:
    path = tmp_path / "schema.yaml"
    path.write_text("columns:\n  x: {minimum: 0}\n", encoding="utf-8")
    with pytest.raises(ParamsError, match=r"schema.yaml: 'columns.x.minimum'"):
        load_schema_file(path)


def test_schema_file_column_not_in_params_is_named(tmp_path: Path) -> None:
    path = tmp_path / "schema.yaml"
    path.write_text("columns:\n  salary: {min: 0}\n", encoding="utf-8")
    with pytest.raises(ParamsError, match=r"not in params data section: \['salary'\]"):
        check(small(), schema_file=load_schema_file(path))


def test_schema_file_missing_is_named(tmp_path: Path) -> None:
    with pytest.raises(ParamsError, match="cannot read schema file"):
        load_schema_file(tmp_path / "absent.yaml")


def test_schema_file_invalid_yaml_is_named(tmp_path: Path) -> None:
    path = tmp_path / "schema.yaml"
    path.write_text("columns: {x: [\n", encoding="utf-8")
    with pytest.raises(ParamsError, match="not valid YAML"):
        load_schema_file(path)


def test_no_schema_file_means_params_checks_only() -> None:
    assert load_schema_file(None) == SchemaFile()
    assert check(small(x=[-5.0, 1e9, 0.0, 1.0])).valid


def test_infinite_numbers_are_reported_with_examples() -> None:
    violation = only(check(small(x=[1.0, np.inf, 3.0, 4.0])), "x")
    assert violation.check == "finite"
    assert violation.count == 1 and violation.examples == ["'inf'"]


def test_boolean_target_matches_positive_label_true() -> None:
    data = SMALL.model_copy(update={"positive_label": 1})  # `true` in YAML parses as 1
    assert check(small(y=[True, False, True, False]), data=data).valid


def test_markdown_table_escapes_pipes_in_values() -> None:
    rule = SchemaFile(columns={"c": ColumnRule(allowed=("a", "b"))})
    report = check(small(c=["a", "x|y", "p\nq", "b"]), schema_file=rule)
    rows = [line for line in report.to_markdown().splitlines() if line.startswith("| `c`")]
    assert len(rows) == 1
    assert "'x\\|y'" in rows[0] and "'p\\nq'" in rows[0]  # one line: examples are repr()s
    assert rows[0].count(" | ") == 3  # four cells: the value's pipe did not add one


def test_missing_targets_are_a_violation_naming_their_rows() -> None:
    report = check(small(y=[0, None, 1, None]))
    violation = only(report, "y")
    assert (violation.check, violation.count) == ("not_nullable", 2)
    assert violation.examples == ["row 2", "row 4"]


def test_drop_missing_target_drops_and_counts_the_rows() -> None:
    frame = small(y=[0, None, 1, 1], id=[1, 2, 3, 4])
    report = check(frame, rules=LOOSE.model_copy(update={"drop_missing_target": True}))
    assert report.valid, report.summary()
    assert (report.rows, report.to_dict()["dropped_missing_target"]) == (3, 1)
    assert "1 row(s) without a target value dropped" in report.to_markdown()


def test_a_misspelt_target_is_reported_missing_not_as_a_schema_mismatch() -> None:
    typo = SMALL.model_copy(update={"target": "Y"})
    rules = SchemaFile(columns={"y": ColumnRule(allowed=(0, 1))})
    report = check(small(), data=typo, schema_file=rules)
    assert only(report, "Y").check == "column is missing"


def test_a_nullable_target_in_the_schema_file_points_to_drop_missing_target() -> None:
    rules = SchemaFile(columns={"y": ColumnRule(nullable=True)})
    with pytest.raises(ParamsError, match="drop_missing_target"):
        check(small(), schema_file=rules)
