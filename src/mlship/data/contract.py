"""The data contract: a pandera schema from params plus an optional schema file.

Validation is lazy, so one run lists every violation (column, check, count, examples).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
import yaml
from pandera.errors import SchemaErrors
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mlship.config import DataParams, ValidateParams
from mlship.errors import ParamsError
from mlship.report.markdown import cell


class ColumnRule(BaseModel):
    """One column's rules in the schema file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    min: float | None = None
    max: float | None = None
    allowed: tuple[str | int, ...] | None = None
    nullable: bool = True
    unique: bool = False


class SchemaFile(BaseModel):
    """The optional schema file: per-column rules."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    columns: dict[str, ColumnRule] = Field(default_factory=dict)


@dataclass(frozen=True)
class Violation:
    """One failed check, aggregated over the rows that fail it."""

    column: str
    check: str
    count: int
    examples: list[str]

    def describe(self) -> str:
        """One line for a terminal, naming the column, the check and what failed."""
        line = f"column '{self.column}': {self.check}"
        if self.count:
            line += f" ({self.count} row(s))"
        if self.examples:
            line += f", e.g. {', '.join(self.examples)}"
        return line


@dataclass(frozen=True)
class ValidationReport:
    """The outcome of validating one table."""

    source: str
    rows: int
    columns: int
    violations: list[Violation] = field(default_factory=list)
    dropped_missing_target: int = 0

    @property
    def valid(self) -> bool:
        """Whether no check failed."""
        return not self.violations

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe view."""
        return {
            "source": self.source,
            "valid": self.valid,
            "rows": self.rows,
            "columns": self.columns,
            "violations": [asdict(v) for v in self.violations],
            "dropped_missing_target": self.dropped_missing_target,
        }

    def to_markdown(self) -> str:
        """A short summary for people: verdict, then one row per violation."""
        verdict = "✅ passed" if self.valid else f"❌ failed: {len(self.violations)} violation(s)"
        lines = [
            f"**Data validation {verdict}** — `{self.source}`, {self.rows} rows, "
            f"{self.columns} columns.",
        ]
        if self.dropped_missing_target:
            lines.append(
                f"{self.dropped_missing_target} row(s) without a target value dropped "
                "(`validate.drop_missing_target`)."
            )
        if self.violations:
            lines += ["", *violations_table(self.to_dict()["violations"])]
        return "\n".join(lines) + "\n"

    def summary(self) -> str:
        """One line per violation, for a terminal."""
        return "\n".join(f"{self.source}: {v.describe()}" for v in self.violations)


def violations_table(violations: Sequence[Mapping[str, Any]]) -> list[str]:
    """validation.json's violations as markdown table lines, each value made safe for a cell."""
    return ["| column | check | failing rows | examples |", "|---|---|---:|---|"] + [
        f"| `{cell(v['column'])}` | {cell(v['check'])} | {v['count']} | "
        f"{cell(', '.join(map(str, v.get('examples', []))))} |"
        for v in violations
    ]


def load_schema_file(path: Path | None) -> SchemaFile:
    """Read the schema file, or return an empty one when none is configured."""
    if path is None:
        return SchemaFile()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return SchemaFile.model_validate(raw)
    except OSError as error:
        raise ParamsError(f"{path}: cannot read schema file ({error.strerror})") from None
    except yaml.YAMLError as error:
        raise ParamsError(f"{path}: not valid YAML: {error}") from None
    except ValidationError as error:
        first = error.errors()[0]
        key = ".".join(str(part) for part in first["loc"])
        raise ParamsError(f"{path}: '{key}': {first['msg']}") from None


def _rule_checks(rule: ColumnRule) -> list[pa.Check]:
    checks = []
    if rule.min is not None:
        checks.append(pa.Check.ge(rule.min))
    if rule.max is not None:
        checks.append(pa.Check.le(rule.max))
    if rule.allowed is not None:
        allowed = sorted(str(value) for value in rule.allowed)
        # Compare as text so that `allowed: [0, 1]` matches a target read as 0/1 or "0"/"1".
        checks.append(
            pa.Check(
                lambda s: s.isna() | _as_text(s).isin(allowed),
                name=f"allowed values {allowed}",
            )
        )
    return checks


def _as_text(series: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(series):
        series = series.astype("int64")  # as the pipeline reads labels (io.class_labels)
    if pd.api.types.is_float_dtype(series) and (series.dropna() % 1 == 0).all():
        series = series.astype("Int64")
    return series.astype(str)


# "inf" parses as a number, but no estimator can fit it.
_FINITE = pa.Check(np.isfinite, name="finite")


def _max_missing(limit: float) -> pa.Check:
    return pa.Check(
        lambda s: bool(s.isna().mean() <= limit),
        element_wise=False,
        ignore_na=False,  # pandera drops nulls before a check by default: it would see none
        name=f"missing_fraction<={limit}",
        error=f"more than {limit:.0%} of values are missing",
    )


def build_schema(
    data: DataParams, rules: ValidateParams, schema_file: SchemaFile, check_unknown: bool = True
) -> pa.DataFrameSchema:
    """Make the pandera schema for a table described by params.

    `check_unknown=False` skips refusing schema-file columns params do not name: when a column
    params name is missing from the data, that is the problem to report, not the schema file.
    """
    declared = {data.target, *data.features} | ({data.id_column} if data.id_column else set())
    unknown = sorted(set(schema_file.columns) - declared)
    if unknown and check_unknown:
        raise ParamsError(f"schema file names column(s) not in params data section: {unknown}")
    columns: dict[str, pa.Column] = {}
    for name in data.numeric:
        rule = schema_file.columns.get(name, ColumnRule())
        columns[name] = pa.Column(
            float,
            checks=[*_rule_checks(rule), _FINITE, _max_missing(rules.max_missing_fraction)],
            nullable=rule.nullable,
            unique=rule.unique,
            coerce=True,
        )
    for name in data.categorical:
        rule = schema_file.columns.get(name, ColumnRule())
        # No dtype: any value is a valid category, and coercing codes read as floats to str
        # would turn 1 into "1.0"; `allowed` compares as text the way the model sees them.
        columns[name] = pa.Column(
            None,
            checks=[*_rule_checks(rule), _max_missing(rules.max_missing_fraction)],
            nullable=rule.nullable,
            unique=rule.unique,
        )
    target_rule = schema_file.columns.get(data.target, ColumnRule(nullable=False))
    if "nullable" in target_rule.model_fields_set and target_rule.nullable:
        raise ParamsError(
            f"schema file: target '{data.target}' is nullable: rows without a target cannot be "
            "trained on; set validate.drop_missing_target: true to drop (and count) them"
        )
    target_checks = _rule_checks(target_rule)
    if data.is_classification:
        target_checks.append(_class_balance(rules.min_class_fraction))
    if data.task == "binary":
        target_checks.append(
            pa.Check(
                lambda s: bool(s.nunique() == 2),
                element_wise=False,
                name="classes==2",
                error="task 'binary' needs exactly two target classes",
            )
        )
    if data.positive_label is not None:
        positive = str(data.positive_label)
        target_checks.append(
            pa.Check(
                lambda s: bool((_as_text(s.dropna()) == positive).any()),
                element_wise=False,
                name=f"positive_label {positive!r} present",
                error=f"positive_label {positive!r} is not a value of the target",
            )
        )
    columns[data.target] = pa.Column(
        float if data.task == "regression" else None,
        checks=target_checks,
        nullable=False,
        coerce=data.task == "regression",
    )
    if data.id_column:
        columns[data.id_column] = pa.Column(None, nullable=False, unique=True)
    return pa.DataFrameSchema(
        columns,
        checks=[
            pa.Check(
                lambda df: len(df) >= rules.min_rows,
                name=f"min_rows>={rules.min_rows}",
                error=f"fewer than {rules.min_rows} rows",
            )
        ],
        strict=False,
    )


def _class_balance(minimum: float) -> pa.Check:
    return pa.Check(
        lambda s: bool(s.value_counts(normalize=True).min() >= minimum and s.nunique() >= 2),
        element_wise=False,
        name=f"class_fraction>={minimum}",
        error=f"needs at least two classes, each at least {minimum:.0%} of rows",
    )


_CHECK_NAMES = {"column_in_dataframe": "column is missing", "field_uniqueness": "values not unique"}


def _violations(errors: SchemaErrors, max_examples: int, frame: pd.DataFrame) -> list[Violation]:
    cases = errors.failure_cases.copy()
    cases["failure_case"] = cases["failure_case"].astype(str)
    missing = cases["check"] == "column_in_dataframe"
    cases.loc[missing, "column"] = cases.loc[missing, "failure_case"]
    cases["column"] = cases["column"].fillna("(table)").astype(str)
    # A value that cannot be coerced is reported once as a type error, not again by each check.
    uncoercible = cases["check"].astype(str).str.startswith("coerce_dtype")
    bad_type = set(cases.loc[uncoercible, "column"])
    cases = cases[uncoercible | ~cases["column"].isin(bad_type)]
    cases["check"] = cases["check"].astype(str).replace(_CHECK_NAMES)
    cases.loc[uncoercible, "check"] = "wrong type: " + cases.loc[uncoercible, "check"]
    out = []
    for (column, check), group in cases.groupby(["column", "check"], sort=True):
        if check == "not_nullable":  # the value is null: say which rows
            rows = group["index"].dropna().astype(int).head(max_examples)
            count, shown = int(group["index"].notna().sum()), [f"row {row + 1}" for row in rows]
        elif group["index"].notna().any():
            examples = group["failure_case"].drop_duplicates().head(max_examples)
            count, shown = int(group["index"].notna().sum()), [repr(value) for value in examples]
        else:
            count, shown = _whole_column(frame, str(column), str(check), max_examples)
        out.append(Violation(column=str(column), check=str(check), count=count, examples=shown))
    return out


def _whole_column(
    frame: pd.DataFrame, column: str, check: str, max_examples: int
) -> tuple[int, list[str]]:
    """Count and examples for a check on a whole column or table rather than on rows."""
    if check == "column is missing" or (column != "(table)" and column not in frame):
        return 0, []
    if column == "(table)":
        return len(frame), [f"{len(frame)} rows"]
    values = frame[column]
    if "missing" in check:  # the max-missing check, reported under its error text
        return int(values.isna().sum()), [f"{values.isna().mean():.1%} missing"]
    # Class checks: show each class's share, rarest first, so the fix is obvious.
    shares = values.dropna().astype(str).value_counts(normalize=True, sort=False)
    shares = shares.sort_values(kind="stable")
    return len(values), [
        f"{label!r}: {share:.1%}" for label, share in shares.head(max_examples).items()
    ]


def validate_frame(
    frame: pd.DataFrame,
    data: DataParams,
    rules: ValidateParams,
    schema_file: SchemaFile,
    source: str,
) -> ValidationReport:
    """Check a frame against the contract, collecting every violation.

    A column params name that the file lacks is reported as missing, before the schema file is
    cross-checked (a misspelt target is a missing column, not a schema problem).
    """
    declared = [data.target, *data.features] + ([data.id_column] if data.id_column else [])
    absent = [name for name in declared if name not in frame.columns]
    dropped = 0
    if rules.drop_missing_target and data.target in frame.columns:
        keep = frame[data.target].notna()
        dropped = int((~keep).sum())
        frame = frame[keep]
    schema = build_schema(data, rules, schema_file, check_unknown=not absent)
    try:
        schema.validate(frame, lazy=True)
    except SchemaErrors as errors:
        violations = _violations(errors, rules.max_examples, frame)
    else:
        violations = []
    return ValidationReport(source, len(frame), frame.shape[1], violations, dropped)
