"""Profile a table and compare two: schema changes, row counts and per-column shift with PSI.

A profile is small JSON (summary statistics, decile edges, top categories), so main's side can
travel as a file; the pull request's side is profiled from its data at report time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import chi2_contingency

from mlship.monitoring.statistics import psi

PSI_ALERT = 0.2  # the customary "significant shift" level of the population stability index
TOP_KEPT = 20
HIGH_CARDINALITY = 50  # above this many distinct values a column is summarised by its count
# The target shifted when a chi-square test of homogeneity (class counts, or counts in main's
# decile bins for regression) rejects at this level and the shares moved by at least this much
# (total variation): large tables make tiny moves significant.
TARGET_ALPHA = 0.01
TARGET_MIN_EFFECT = 0.02


def _kind(series: pd.Series, numeric: set[str], categorical: set[str]) -> str:
    name = str(series.name)
    if name in numeric:
        return "numeric"
    if name in categorical:
        return "categorical"
    if pd.api.types.is_bool_dtype(series):
        return "categorical"
    return "numeric" if pd.api.types.is_numeric_dtype(series) else "categorical"


def _numeric(values: pd.Series) -> pd.Series:
    return pd.to_numeric(values, errors="coerce").astype("float64")


def _as_text(values: pd.Series) -> pd.Series:
    return values.astype(object).where(values.isna(), values.astype(str))


def profile_column(series: pd.Series, kind: str) -> dict[str, Any]:
    """Summary of one column: missing share plus moments and deciles, or top categories."""
    rows = max(len(series), 1)
    out: dict[str, Any] = {
        "kind": kind,
        "dtype": str(series.dtype),
        "missing": float(series.isna().sum() / rows),
    }
    if kind == "numeric":
        values = _numeric(series).dropna()
        if values.empty:
            return {**out, "mean": None, "std": None, "min": None, "max": None, "edges": []}
        edges = np.unique(np.quantile(values, np.linspace(0.1, 0.9, 9)))
        return {
            **out,
            "mean": float(values.mean()),
            "std": float(values.std(ddof=0)),
            "min": float(values.min()),
            "max": float(values.max()),
            "edges": [float(edge) for edge in edges],
            "shares": _numeric_shares(series, [float(edge) for edge in edges]),
        }
    counts = _as_text(series).value_counts(dropna=True)
    top = counts.head(TOP_KEPT)
    return {
        **out,
        "distinct": int(len(counts)),
        # A list, not a mapping: JSON writers sort keys, and the order here is by frequency.
        "top": [[str(key), float(count / rows)] for key, count in top.items()],
    }


def _numeric_shares(series: pd.Series, edges: list[float]) -> list[float]:
    """Share of rows in each bin between `edges`, then the missing share last."""
    values = _numeric(series)
    rows = max(len(values), 1)
    present = values.dropna().to_numpy()
    bins = np.searchsorted(np.asarray(edges), present, side="right")
    counts = np.bincount(bins, minlength=len(edges) + 1)
    return [float(c / rows) for c in counts] + [float(values.isna().sum() / rows)]


def _categorical_shares(series: pd.Series, categories: list[str]) -> list[float]:
    values = _as_text(series)
    rows = max(len(values), 1)
    shares = [float((values == category).sum() / rows) for category in categories]
    missing = float(values.isna().sum() / rows)
    return shares + [max(0.0, 1.0 - sum(shares) - missing), missing]


def profile(
    frame: pd.DataFrame,
    numeric: list[str] | None = None,
    categorical: list[str] | None = None,
    skip: list[str] | None = None,
    target: tuple[str, bool] | None = None,
) -> dict[str, Any]:
    """Profile every column but `skip` (ids); declared feature lists decide the kind.

    `target` is (column, is_classification): its class balance, or its distribution.
    """
    numeric_set, categorical_set = set(numeric or []), set(categorical or [])
    if target is not None:
        (categorical_set if target[1] else numeric_set).add(target[0])
    columns = {
        str(name): profile_column(frame[name], _kind(frame[name], numeric_set, categorical_set))
        for name in frame.columns
        if str(name) not in set(skip or [])
    }
    out: dict[str, Any] = {"rows": int(len(frame)), "columns": columns}
    if target is not None and target[0] in columns:
        out["target"] = target[0]
    return out


@dataclass(frozen=True)
class ColumnShift:
    """How one column moved from main to the pull request."""

    column: str
    kind: str
    main: str
    pr: str
    psi: float | None

    @property
    def alert(self) -> bool:
        """Whether the shift is large by the customary PSI rule of thumb."""
        return self.psi is not None and self.psi >= PSI_ALERT


@dataclass(frozen=True)
class TargetShift:
    """How the target's class balance (or distribution) moved from main to the pull request."""

    column: str
    kind: str
    main: str
    pr: str
    total_variation: float
    p_value: float

    @property
    def alert(self) -> bool:
        """Whether the move is both significant and large enough to matter."""
        return self.p_value < TARGET_ALPHA and self.total_variation >= TARGET_MIN_EFFECT


@dataclass(frozen=True)
class DataDiff:
    """Schema changes, row counts and per-column shift between main's data and the PR's."""

    main_rows: int
    pr_rows: int
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    retyped: list[tuple[str, str, str]] = field(default_factory=list)
    shifts: list[ColumnShift] = field(default_factory=list)
    target: TargetShift | None = None

    @property
    def unchanged(self) -> bool:
        """Whether nothing visible moved: same schema, rows and a zero PSI everywhere."""
        return (
            self.main_rows == self.pr_rows
            and not (self.added or self.removed or self.retyped)
            and all(s.main == s.pr and (s.psi or 0.0) < 1e-9 for s in self.shifts)
        )


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.4g}"


def _summary(column: dict[str, Any], top: int) -> str:
    missing = f"missing {column['missing']:.1%}"
    if column["kind"] == "numeric":
        return f"mean {_fmt(column.get('mean'))}, std {_fmt(column.get('std'))}, {missing}"
    distinct = column.get("distinct", 0)
    if distinct > HIGH_CARDINALITY:
        return f"{distinct} distinct values; {missing}"
    listed = ", ".join(f"{key} {share:.0%}" for key, share in column.get("top", [])[:top])
    return f"{listed}; {missing}"


def _shares(before: dict[str, Any], values: pd.Series) -> tuple[list[float], list[float]]:
    """Main's and the PR's shares over the same bins: main's categories or deciles, missing."""
    if before["kind"] == "numeric":
        return list(before["shares"]), _numeric_shares(values, before["edges"])
    categories = [str(key) for key, _ in before.get("top", [])]
    shares = [float(share) for _, share in before.get("top", [])]
    reference = [*shares, max(0.0, 1 - sum(shares) - before["missing"]), before["missing"]]
    return reference, _categorical_shares(values, categories)


def target_shift(
    main: dict[str, Any], current: pd.DataFrame, current_profile: dict[str, Any], top: int
) -> TargetShift | None:
    """The target's move, tested with chi-square on counts over main's bins (None: no target)."""
    name = current_profile.get("target")
    before = main.get("columns", {}).get(name)
    after = current_profile["columns"].get(name)
    if name is None or before is None or after is None or before["kind"] != after["kind"]:
        return None
    if before["kind"] == "numeric" and "shares" not in before:
        return None
    reference, shares = _shares(before, current[name])
    counts = np.array([reference, shares]) * np.array([[main.get("rows", 0)], [len(current)]])
    counts = counts[:, counts.sum(axis=0) > 0]
    p_value = 1.0
    if counts.shape[1] > 1 and (counts.sum(axis=1) > 0).all():
        p_value = float(chi2_contingency(counts).pvalue)
    kind = "distribution" if before["kind"] == "numeric" else "class balance"
    moved = 0.5 * float(np.abs(np.array(reference) - np.array(shares)).sum())
    return TargetShift(str(name), kind, _summary(before, top), _summary(after, top), moved, p_value)


def compare(
    main: dict[str, Any], current: pd.DataFrame, current_profile: dict[str, Any], top: int = 3
) -> DataDiff:
    """Compare main's profile with the pull request's data (and its profile)."""
    main_columns: dict[str, Any] = main.get("columns", {})
    pr_columns: dict[str, Any] = current_profile["columns"]
    shared = [name for name in pr_columns if name in main_columns]
    retyped = [
        (name, main_columns[name]["kind"], pr_columns[name]["kind"])
        for name in shared
        if main_columns[name]["kind"] != pr_columns[name]["kind"]
    ]
    shifts = []
    for name in shared:
        before, after = main_columns[name], pr_columns[name]
        value: float | None = None
        if before["kind"] == after["kind"] and (before["kind"] != "numeric" or "shares" in before):
            value = psi(*_shares(before, current[name]))
        shifts.append(
            ColumnShift(name, after["kind"], _summary(before, top), _summary(after, top), value)
        )
    shifts.sort(key=lambda s: (-(s.psi or 0.0), s.column))
    return DataDiff(
        main_rows=int(main.get("rows", 0)),
        pr_rows=int(current_profile["rows"]),
        added=[name for name in pr_columns if name not in main_columns],
        removed=[name for name in main_columns if name not in pr_columns],
        retyped=retyped,
        shifts=shifts,
        target=target_shift(main, current, current_profile, top),
    )


def _names(columns: list[str]) -> str:
    return ", ".join(f"`{c}`" for c in columns)


def diff_markdown(diff: DataDiff, max_rows: int | None = None) -> str:
    """The data diff as markdown; with `max_rows`, only the most shifted columns are listed."""
    rows_change = diff.pr_rows - diff.main_rows
    lines = [f"Rows: main {diff.main_rows}, PR {diff.pr_rows} ({rows_change:+d})."]
    if diff.unchanged:
        return lines[0] + " Same schema, same distributions: the data did not change.\n"
    if diff.target is not None:
        target = diff.target
        verdict = "⚠️ shifted" if target.alert else "no significant shift"
        lines.append(
            f"Target `{target.column}` ({target.kind}): main {target.main} → PR {target.pr} — "
            f"{verdict} (total variation {target.total_variation:.3f}, "
            f"chi-square p {target.p_value:.2g})."
        )
    if not diff.shifts and diff.removed:
        lines.append(
            "No column in common, so no per-column shift to show: a different dataset. "
            f"Main's columns: {_names(diff.removed)}; the PR's: {_names(diff.added) or 'none'}."
        )
        return "\n".join(lines) + "\n"
    schema = []
    if diff.added:
        schema.append("added " + _names(diff.added))
    if diff.removed:
        schema.append("removed " + _names(diff.removed))
    schema += [f"`{name}` {old} → {new}" for name, old, new in diff.retyped]
    lines.append("Schema: " + ("; ".join(schema) if schema else "unchanged") + ".")
    alerts = [s.column for s in diff.shifts if s.alert]
    if alerts:
        lines.append(
            f"⚠️ Shift (PSI ≥ {PSI_ALERT}) in: " + ", ".join(f"`{c}`" for c in alerts) + "."
        )
    shown = diff.shifts if max_rows is None else diff.shifts[:max_rows]
    lines += ["", "| column | kind | main | PR | PSI |", "|---|---|---|---|---:|"]
    for shift in shown:
        mark = " ⚠️" if shift.alert else ""
        value = "n/a" if shift.psi is None else f"{shift.psi:.3f}{mark}"
        lines.append(f"| `{shift.column}` | {shift.kind} | {shift.main} | {shift.pr} | {value} |")
    if len(shown) < len(diff.shifts):
        lines.append(
            f"\n_{len(diff.shifts) - len(shown)} more column(s) not listed to fit the comment; "
            "they shifted less than those above._"
        )
    return "\n".join(lines) + "\n"
