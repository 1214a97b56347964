"""The example generator is deterministic, has the documented signal, and its drift knobs work."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlship.data.generate import (
    CATEGORICAL,
    ID_COLUMN,
    NUMERIC,
    REGIONS,
    TARGET,
    Drift,
    generate_churn,
)
from mlship.data.io import write_table

ROWS = 20_000


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return generate_churn(ROWS, seed=5)


def churn_slope(frame: pd.DataFrame) -> float:
    """Churn rate of the top monthly-charges quartile minus that of the bottom one."""
    charges = frame["monthly_charges"]
    high = frame.loc[charges >= charges.quantile(0.75), TARGET].mean()
    low = frame.loc[charges <= charges.quantile(0.25), TARGET].mean()
    return float(high - low)


def test_same_seed_gives_identical_csv_bytes(tmp_path: Path) -> None:
    write_table(generate_churn(2000, seed=11), tmp_path / "a.csv")
    write_table(generate_churn(2000, seed=11), tmp_path / "b.csv")
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()


def test_different_seeds_give_different_data() -> None:
    assert not generate_churn(500, seed=1).equals(generate_churn(500, seed=2))


def test_columns_are_id_month_features_and_target(reference: pd.DataFrame) -> None:
    assert list(reference.columns) == [ID_COLUMN, "month", *NUMERIC, *CATEGORICAL, TARGET]
    assert reference[ID_COLUMN].is_unique
    assert len(reference) == ROWS


def test_churn_rate_is_about_twenty_percent(reference: pd.DataFrame) -> None:
    assert 0.15 <= reference[TARGET].mean() <= 0.25
    assert set(reference[TARGET].unique()) == {0, 1}


def test_missing_values_only_where_documented(reference: pd.DataFrame) -> None:
    missing = reference.isna().mean()
    assert set(missing[missing > 0].index) == {
        "total_charges",
        "avg_session_minutes",
        "internet_service",
    }
    assert 0.03 <= missing["avg_session_minutes"] <= 0.07
    assert 0.015 <= missing["internet_service"] <= 0.045
    # New customers have no billing history: total charges missing exactly when tenure is 0.
    assert (reference["total_charges"].isna() == (reference["tenure_months"] == 0)).all()


def test_id_offset_shifts_customer_ids() -> None:
    frame = generate_churn(10, seed=1, id_offset=500)
    assert frame[ID_COLUMN].iloc[0] == "C00000500"


def test_months_span_the_requested_period() -> None:
    frame = generate_churn(3000, seed=1, start_month="2026-11", months=3)
    assert sorted(frame["month"].unique()) == ["2026-11", "2026-12", "2027-01"]
    assert frame["month"].is_monotonic_increasing


def test_shift_moves_the_mean_by_about_that_many_spreads(reference: pd.DataFrame) -> None:
    drifted = generate_churn(ROWS, seed=5, drift=Drift(shift={"monthly_charges": 1.0}))
    moved = drifted["monthly_charges"].mean() - reference["monthly_charges"].mean()
    assert 20.0 <= moved <= 27.0  # one spread of monthly charges is 25


def test_shift_of_an_unknown_column_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown numeric column 'salary'"):
        generate_churn(10, seed=1, drift=Drift(shift={"salary": 1.0}))


def test_new_category_appears_with_about_its_share(reference: pd.DataFrame) -> None:
    drifted = generate_churn(ROWS, seed=5, drift=Drift(new_category={"region": ("mars", 0.1)}))
    share = (drifted["region"] == "mars").mean()
    assert 0.08 <= share <= 0.12
    assert "mars" not in set(reference["region"])
    assert set(drifted["region"]) == {*REGIONS, "mars"}


def test_charges_effect_changes_the_relation_to_churn(reference: pd.DataFrame) -> None:
    reversed_ = generate_churn(ROWS, seed=5, drift=Drift(charges_effect=-1.0))
    assert churn_slope(reference) > 0.05
    assert churn_slope(reversed_) < -0.05
    # Concept drift only: the charges themselves are unchanged.
    assert reversed_["monthly_charges"].equals(reference["monthly_charges"])


def test_extra_missing_adds_about_that_share(reference: pd.DataFrame) -> None:
    drifted = generate_churn(ROWS, seed=5, drift=Drift(extra_missing={"age": 0.2}))
    assert reference["age"].isna().sum() == 0
    assert 0.17 <= drifted["age"].isna().mean() <= 0.23


def test_region_carries_no_signal(reference: pd.DataFrame) -> None:
    rates = reference.groupby("region")[TARGET].mean()
    assert rates.max() - rates.min() < 0.03
    assert np.isclose(rates.mean(), reference[TARGET].mean(), atol=0.01)
