"""Behaviour of the drift detector on small synthetic frames."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError
from scipy import stats

from mlship.config import DriftSettings
from mlship.errors import DataError
from mlship.monitoring.drift import detect_drift
from mlship.monitoring.results import DriftResult
from mlship.monitoring.statistics import adjust_pvalues, psi

NUMERIC = [f"x{i}" for i in range(6)]
CATEGORICAL = ["colour", "size"]
NO_DOMAIN = DriftSettings(domain_classifier=False)
# Small enough to keep each test well under a second, large enough for the tests to have power.
ROWS = 3000


def make_frame(rows: int = ROWS, seed: int = 0) -> pd.DataFrame:
    """Return a frame with numeric and categorical columns from one fixed distribution."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({name: rng.normal(size=rows) for name in NUMERIC})
    frame["colour"] = rng.choice(np.array(["red", "green", "blue", "grey"]), size=rows)
    frame["size"] = rng.choice(np.array(["S", "M", "L"]), size=rows, p=[0.3, 0.5, 0.2])
    return frame


def check(
    reference: pd.DataFrame, current: pd.DataFrame, settings: DriftSettings = NO_DOMAIN
) -> DriftResult:
    return detect_drift(reference, current, NUMERIC, CATEGORICAL, settings)


def test_two_samples_of_one_distribution_are_not_drifted() -> None:
    result = check(make_frame(seed=1), make_frame(seed=2))

    assert not result.drifted
    assert result.drifted_features == ()
    assert all(c.p_adjusted >= 0.05 for c in result.columns)


def test_false_alarms_stay_rare_across_many_stable_columns() -> None:
    runs, raw_flags, any_flagged = 30, 0, 0
    for seed in range(runs):
        result = check(make_frame(1000, seed=100 + seed), make_frame(1000, seed=200 + seed))
        raw_flags += sum(c.p_value < 0.05 for c in result.columns)
        any_flagged += result.drifted
    tests = runs * len(NUMERIC + CATEGORICAL)

    # Uncorrected, about one test in twenty fires by chance; Holm keeps whole runs clean.
    assert 0.01 < raw_flags / tests < 0.1
    assert any_flagged <= 3


def test_correction_reduces_false_positives() -> None:
    p_null = np.random.default_rng(7).uniform(size=200)

    raw = int((p_null < 0.05).sum())
    holm = int((adjust_pvalues(p_null, "holm") < 0.05).sum())
    bonferroni = int((adjust_pvalues(p_null, "bonferroni") < 0.05).sum())
    fdr = int((adjust_pvalues(p_null, "fdr_bh") < 0.05).sum())

    assert raw > 5
    assert holm == bonferroni == fdr == 0


def test_holm_adjustment_matches_the_step_down_formula() -> None:
    adjusted = adjust_pvalues([0.01, 0.04, 0.03, 0.005], "holm")

    np.testing.assert_allclose(adjusted, [0.03, 0.06, 0.06, 0.02])


def test_benjamini_hochberg_uses_scipy_false_discovery_control() -> None:
    p = [0.01, 0.04, 0.03, 0.005, 0.5]

    np.testing.assert_allclose(
        adjust_pvalues(p, "fdr_bh"), stats.false_discovery_control(p, method="bh")
    )


def test_ks_flags_shifted_numeric_column_and_ranks_it_first() -> None:
    current = make_frame(seed=2)
    current["x3"] += 0.5
    current["x1"] += 0.15

    result = check(make_frame(seed=1), current)

    assert result.drifted
    assert result.drifted_features[0] == "x3"
    assert "x1" in result.drifted_features
    x3 = result.column("x3")
    assert x3.test == "ks" and x3.p_adjusted < 1e-10 and "distribution" in x3.reason
    assert not result.column("x0").drifted


def test_ks_statistic_and_p_value_match_scipy_on_large_samples() -> None:
    rng = np.random.default_rng(3)
    reference = pd.DataFrame({"x": rng.normal(size=15_000)})
    current = pd.DataFrame({"x": rng.normal(0.03, size=12_000)})

    col = detect_drift(reference, current, ["x"], [], NO_DOMAIN).column("x")

    expected = stats.ks_2samp(reference["x"], current["x"], method="asymp")
    assert col.statistic == pytest.approx(expected.statistic)
    assert col.p_value == pytest.approx(expected.pvalue)


def test_tiny_shift_on_a_large_sample_is_significant_but_not_drift() -> None:
    rng = np.random.default_rng(4)
    reference = pd.DataFrame({"x": rng.normal(size=200_000)})
    current = pd.DataFrame({"x": rng.normal(0.015, size=200_000)})

    col = detect_drift(reference, current, ["x"], [], NO_DOMAIN).column("x")

    assert col.p_adjusted < 0.05
    assert col.effect < NO_DOMAIN.min_effect
    assert not col.drifted


def test_psi_is_computed_on_reference_quantile_bins() -> None:
    rng = np.random.default_rng(5)
    # Equal-width bins would put almost all of a lognormal in one bin and see nothing here.
    reference = pd.DataFrame({"x": rng.lognormal(sigma=2.0, size=20_000)})
    current = pd.DataFrame({"x": rng.lognormal(mean=1.2, sigma=2.0, size=20_000)})

    col = detect_drift(reference, current, ["x"], [], NO_DOMAIN).column("x")

    assert col.psi > 0.2
    assert col.drifted


def test_psi_of_identical_shares_is_zero() -> None:
    shares = np.array([0.2, 0.3, 0.5])

    assert psi(shares, shares) == 0.0
    assert psi(shares, np.array([0.5, 0.3, 0.2])) > 0.2


@pytest.mark.parametrize(
    ("reference", "current", "figure"),
    [
        ([0.5, 0.5], [0.4, 0.6], 0.04054651081081642),
        ([0.25, 0.25, 0.5, 0.0], [0.1, 0.3, 0.3, 0.3], 2.6498344459123278),
        (
            [0.1] * 10,
            [0.05, 0.07, 0.08, 0.09, 0.1, 0.1, 0.11, 0.12, 0.13, 0.15],
            0.08361779980237698,
        ),
    ],
    ids=["two-bins", "empty-bin", "deciles"],
)
def test_psi_gives_the_figures_of_the_former_report_and_rollout_copies(
    reference: list[float], current: list[float], figure: float
) -> None:
    # The figures report/datadiff.py's and rollout/observe.py's own psi() gave on these shares
    # before both used this one; equal to the last bit, an empty bin's floor included.
    assert psi(reference, current) == figure


def test_psi_refuses_shares_over_different_bins() -> None:
    with pytest.raises(ValueError, match="same bins"):
        psi([0.5, 0.5], [0.2, 0.3, 0.5])


def test_new_category_is_detected_with_its_share() -> None:
    current = make_frame(seed=2)
    current.loc[: ROWS // 10 - 1, "colour"] = "purple"

    result = check(make_frame(seed=1), current)

    colour = result.column("colour")
    assert colour.drifted
    assert colour.new_categories == (("purple", pytest.approx(0.1)),)
    assert "new categories" in colour.reason


def test_missing_rate_jump_is_detected() -> None:
    current = make_frame(seed=2)
    current.loc[: ROWS // 5, "x2"] = np.nan

    x2 = check(make_frame(seed=1), current).column("x2")

    assert x2.drifted
    assert x2.missing_ref == 0.0
    assert x2.missing_cur == pytest.approx(0.2, abs=0.01)
    assert "missing rate" in x2.reason


def test_chi_square_flags_changed_category_mix() -> None:
    current = make_frame(seed=2)
    rng = np.random.default_rng(9)
    current["size"] = rng.choice(np.array(["S", "M", "L"]), size=ROWS, p=[0.4, 0.4, 0.2])

    result = check(make_frame(seed=1), current)

    size = result.column("size")
    assert size.test == "chi2"
    assert size.drifted and size.new_categories == ()
    assert result.drifted_features == ("size",)


def test_too_many_categories_are_pooled_without_false_alarm() -> None:
    rng = np.random.default_rng(11)
    labels = np.array([f"id{i}" for i in range(400)])
    reference = pd.DataFrame({"city": rng.choice(labels, size=5000)})
    current = pd.DataFrame({"city": rng.choice(labels, size=5000)})

    col = detect_drift(reference, current, [], ["city"], NO_DOMAIN).column("city")

    assert not col.drifted


def test_domain_classifier_auc_is_near_half_on_one_distribution() -> None:
    result = check(make_frame(seed=1), make_frame(seed=2), DriftSettings())

    assert result.domain is not None
    assert abs(result.domain.auc - 0.5) < 0.05
    assert not result.domain.drifted
    assert result.domain.auc_low <= result.domain.auc <= result.domain.auc_high


def test_domain_classifier_detects_shift_and_names_its_driver() -> None:
    current = make_frame(seed=2)
    current["x4"] += 1.0

    domain = check(make_frame(seed=1), current, DriftSettings()).domain

    assert domain is not None
    assert domain.drifted and domain.auc_low > 0.6
    assert domain.importances[0][0] == "x4"
    assert domain.roc_curve[0] == (0.0, 0.0) and domain.roc_curve[-1] == (1.0, 1.0)


def test_same_inputs_give_the_same_result_dict() -> None:
    current = make_frame(seed=2)
    current["x0"] *= 1.5

    first = check(make_frame(seed=1), current, DriftSettings()).to_dict()
    second = check(make_frame(seed=1), current, DriftSettings()).to_dict()

    assert first == second
    assert json.loads(json.dumps(first, allow_nan=False)) == first


def test_prediction_drift_flags_shifted_scores() -> None:
    rng = np.random.default_rng(12)
    reference_pred = rng.beta(2, 5, size=4000)
    current_pred = rng.beta(3, 4, size=4000)
    frame = make_frame(4000)

    result = detect_drift(
        frame,
        frame,
        NUMERIC,
        CATEGORICAL,
        NO_DOMAIN,
        reference_pred=reference_pred,
        current_pred=current_pred,
    )

    assert result.prediction is not None and result.prediction.drifted
    assert result.drifted and result.drifted_features == ()


def test_performance_drop_is_flagged_from_target_and_scores() -> None:
    rng = np.random.default_rng(13)
    reference, current = make_frame(seed=1), make_frame(seed=2)
    reference["label"] = rng.integers(0, 2, size=ROWS)
    current["label"] = rng.integers(0, 2, size=ROWS)
    good = np.clip(reference["label"] * 0.6 + rng.uniform(0, 0.4, size=ROWS), 0, 1)
    noisy = rng.uniform(size=ROWS)

    result = detect_drift(
        reference,
        current,
        NUMERIC,
        CATEGORICAL,
        NO_DOMAIN,
        target="label",
        reference_pred=good,
        current_pred=noisy,
    )

    assert result.performance is not None
    assert result.performance.metric == "roc_auc"
    assert result.performance.reference == 1.0
    assert result.performance.drifted and result.drifted


def test_performance_from_given_metrics() -> None:
    frame = make_frame()

    result = detect_drift(
        frame, frame, NUMERIC, CATEGORICAL, NO_DOMAIN, reference_metric=0.9, current_metric=0.88
    )

    assert result.performance is not None and not result.performance.drifted
    assert not result.drifted


def test_column_missing_from_current_raises_data_error_naming_it() -> None:
    current = make_frame().drop(columns=["x5"])

    with pytest.raises(DataError, match="current.*'x5'"):
        check(make_frame(), current)


def test_empty_frame_raises_data_error_naming_the_columns() -> None:
    with pytest.raises(DataError, match="reference frame is empty.*'x0'"):
        check(make_frame().iloc[:0], make_frame())


def test_text_column_listed_as_numeric_raises_data_error_naming_it() -> None:
    with pytest.raises(DataError, match="'colour'"):
        detect_drift(make_frame(), make_frame(), ["colour"], [], NO_DOMAIN)


def test_all_missing_column_is_drift_by_missing_rate_not_a_crash() -> None:
    current = make_frame(seed=2)
    current["x1"] = np.nan

    x1 = check(make_frame(seed=1), current).column("x1")

    assert x1.drifted and x1.p_value == 1.0 and x1.missing_cur == 1.0


def test_settings_reject_unknown_keys_and_are_frozen() -> None:
    with pytest.raises(ValidationError, match="alhpa"):
        DriftSettings.model_validate({"alhpa": 0.01})
    with pytest.raises(ValidationError):
        NO_DOMAIN.alpha = 0.1  # type: ignore[misc]


def test_large_numeric_columns_are_sampled_the_same_way_every_run_and_say_so() -> None:
    current = make_frame(seed=2)
    current["x3"] += 0.5
    settings = DriftSettings(domain_classifier=False, ks_sample_rows=2000)

    first = check(make_frame(seed=1), current, settings)
    second = check(make_frame(seed=1), current, settings)

    assert first.to_dict() == second.to_dict()
    assert first.drifted_features == ("x3",)
    assert first.column("x3").n_ref == ROWS
    assert any("ks_sample_rows" in note and "x3" in note for note in first.notes)


def test_current_batch_with_one_class_gives_undefined_auc_not_a_crash() -> None:
    rng = np.random.default_rng(14)
    reference, current = make_frame(seed=1), make_frame(seed=2)
    reference["label"] = rng.integers(0, 2, size=ROWS)
    current["label"] = 1

    result = detect_drift(
        reference,
        current,
        NUMERIC,
        CATEGORICAL,
        NO_DOMAIN,
        target="label",
        reference_pred=rng.uniform(size=ROWS),
        current_pred=rng.uniform(size=ROWS),
    )

    assert result.performance is not None and result.performance.metric == "roc_auc"
    assert not result.performance.drifted
    assert result.to_dict()["performance"]["current"] is None
