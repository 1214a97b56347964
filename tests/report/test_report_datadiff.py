"""The data diff: schema changes, row counts and per-column shift between main and the PR."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from mlship.report.datadiff import compare, diff_markdown, profile


def _frame(rows: int = 2000, shift: float = 0.0, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "tenure": rng.normal(30 + shift, 10, rows),
            "plan": rng.choice(["basic", "pro", "team"], rows, p=[0.5, 0.3, 0.2]),
            "id": [f"C{i}" for i in range(rows)],
        }
    )


def _diff(main: pd.DataFrame, pr: pd.DataFrame) -> str:
    # main's profile travels as JSON, as reports/baseline/profile.json does.
    reference = json.loads(json.dumps(profile(main, skip=["id"]), sort_keys=True))
    return diff_markdown(compare(reference, pr, profile(pr, skip=["id"])))


def test_identical_data_is_reported_as_unchanged_in_one_line() -> None:
    text = _diff(_frame(), _frame())
    assert "the data did not change" in text
    assert "|" not in text


def test_shifted_numeric_column_is_flagged_with_its_psi() -> None:
    text = _diff(_frame(), _frame(shift=8, seed=1))
    assert "⚠️ Shift (PSI ≥ 0.2) in: `tenure`." in text
    tenure = next(line for line in text.splitlines() if line.startswith("| `tenure`"))
    assert "mean 29.72" in tenure and "mean 37.87" in tenure


def test_schema_changes_and_row_counts_are_listed() -> None:
    pr = _frame(rows=1500).drop(columns=["plan"]).assign(region="north")
    text = _diff(_frame(), pr)
    assert "Rows: main 2000, PR 1500 (-500)." in text
    assert "added `region`" in text and "removed `plan`" in text


def test_datasets_with_no_column_in_common_say_so_with_both_column_sets() -> None:
    pr = pd.DataFrame({"species": ["Adelie", "Gentoo"] * 50, "bill length (mm)": range(100)})
    text = _diff(_frame(), pr)
    assert "No column in common" in text
    assert "Main's columns: `plan`, `tenure`; the PR's: `species`, `bill length (mm)`." in text
    assert "|" not in text  # no empty shift table


def test_category_share_change_is_flagged() -> None:
    pr = _frame(seed=2)
    pr.loc[: len(pr) // 2, "plan"] = "team"
    text = _diff(_frame(), pr)
    assert "`plan`" in text.split("Shift (PSI ≥ 0.2) in:")[1].splitlines()[0]


def test_table_can_be_limited_to_the_most_shifted_columns() -> None:
    main = _frame()
    reference = profile(main, skip=["id"])
    pr = _frame(shift=8, seed=1)
    text = diff_markdown(compare(reference, pr, profile(pr, skip=["id"])), max_rows=1)
    assert "| `tenure`" in text and "| `plan`" not in text
    assert "1 more column(s) not listed" in text


def _labelled(rows: int, positive: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return _frame(rows, seed=seed).assign(churned=(rng.random(rows) < positive).astype(int))


def _target_diff(main: pd.DataFrame, pr: pd.DataFrame, classification: bool = True) -> str:
    target = ("churned", classification)
    reference = json.loads(json.dumps(profile(main, skip=["id"], target=target)))
    return diff_markdown(compare(reference, pr, profile(pr, skip=["id"], target=target)))


def test_relabelled_target_is_profiled_as_class_balance_and_flagged() -> None:
    text = _target_diff(_labelled(3000, 0.20, 0), _labelled(3000, 0.29, 1))
    line = next(line for line in text.splitlines() if line.startswith("Target `churned`"))
    assert "(class balance)" in line and "⚠️ shifted" in line, line
    assert "main 0 79%, 1 21%" in line and "PR 0 70%, 1 30%" in line, line


def test_same_target_distribution_is_not_flagged() -> None:
    text = _target_diff(_labelled(3000, 0.20, 0), _labelled(3000, 0.20, 1))
    line = next(line for line in text.splitlines() if line.startswith("Target `churned`"))
    assert "no significant shift" in line, line


def test_regression_target_shift_is_flagged_on_its_distribution() -> None:
    main = _frame(seed=0).assign(churned=np.random.default_rng(0).normal(10, 2, 2000))
    pr = _frame(seed=1).assign(churned=np.random.default_rng(1).normal(11, 2, 2000))
    text = _target_diff(main, pr, classification=False)
    line = next(line for line in text.splitlines() if line.startswith("Target `churned`"))
    assert "(distribution)" in line and "⚠️ shifted" in line, line
