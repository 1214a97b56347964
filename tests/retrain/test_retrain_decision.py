"""The retrain decision: drift, performance drop, model age or force, and the reasons it gives."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlship.config import DriftSettings
from mlship.monitoring.drift import detect_drift
from mlship.monitoring.results import DriftResult
from mlship.retrain.decision import Decision, decide
from mlship.retrain.report import decision_markdown

SETTINGS = DriftSettings(domain_classifier=False)


def _frame(rows: int, shift: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "charges": rng.normal(70 + shift, 25, rows),
            "tenure": rng.gamma(1.6, 18.0, rows),
            "plan": rng.choice(["basic", "pro"], rows),
        }
    )


def _check(
    shift: float = 0.0, ref_metric: float | None = None, cur_metric: float | None = None
) -> DriftResult:
    reference, current = _frame(3000, 0.0, 1), _frame(2000, shift, 2)
    return detect_drift(
        reference,
        current,
        ["charges", "tenure"],
        ["plan"],
        SETTINGS,
        reference_metric=ref_metric,
        current_metric=cur_metric,
    )


@pytest.fixture(scope="module", name="stable")
def _stable() -> DriftResult:
    return _check()


def test_drifted_features_are_named_as_the_reason_to_retrain() -> None:
    decision = decide("2026-07", "b.csv", _check(shift=20.0), 3.0, 90)
    assert decision.action == "retrain"
    assert "data drift in 1 of 3 features: `charges`" in decision.reasons[0]


def test_stable_batch_and_young_champion_skip_and_say_why(stable: DriftResult) -> None:
    decision = decide("2026-08", "b.csv", stable, 3.0, 90)
    assert decision.action == "skip" and not decision.reasons
    text = decision.headline()
    assert text.startswith("no retrain for 2026-08: no feature drifted (3 tested)")
    assert "champion trained 3 days ago (limit 90)" in text


def test_old_champion_is_retrained_without_drift(stable: DriftResult) -> None:
    decision = decide("2026-08", "b.csv", stable, 120.0, 90)
    assert decision.action == "retrain"
    assert decision.reasons == ["champion trained 120 days ago (max_model_age_days 90)"]


def test_force_retrains_a_stable_batch_and_comes_first(stable: DriftResult) -> None:
    decision = decide("2026-08", "b.csv", stable, 1.0, 90, force=True)
    assert decision.action == "retrain"
    assert decision.reasons[0].startswith("forced")


def test_the_monitors_trigger_retrains_a_stable_batch_and_records_its_reason(
    stable: DriftResult,
) -> None:
    reason = "live roc_auc 0.52 [0.49, 0.55] on 900 labelled rows of version 1 is worse"
    decision = decide("2026-08", "b.csv", stable, 1.0, 90, trigger=reason)
    assert decision.action == "retrain"
    assert decision.reasons == [f"triggered by production monitoring: {reason}"]
    assert Decision.from_dict(decision.to_dict()).reasons == decision.reasons


def test_performance_drop_beyond_the_threshold_is_a_reason() -> None:
    dropped = decide("2026-08", "b.csv", _check(ref_metric=0.82, cur_metric=0.70), 1.0, 90)
    assert dropped.action == "retrain"
    assert any(r.startswith("performance 0.820 → 0.700") for r in dropped.reasons)
    small = decide("2026-08", "b.csv", _check(ref_metric=0.82, cur_metric=0.80), 1.0, 90)
    assert small.action == "skip"
    assert any(n.startswith("performance 0.820 → 0.800") for n in small.notes)


def test_unknown_model_age_is_noted_not_a_reason(stable: DriftResult) -> None:
    decision = decide("2026-08", "b.csv", stable, None, 90)
    assert decision.action == "skip"
    assert "champion's training date unknown: model age not checked" in decision.notes


def test_decision_round_trips_through_json_and_renders_markdown() -> None:
    decision = decide("2026-07", "b.csv", _check(shift=20.0), 3.0, 90)
    decision.outcome, decision.gate_verdict, decision.registered_version = "retrained", "pass", "4"
    again = Decision.from_dict(decision.to_dict())
    assert again == decision
    markdown = decision_markdown(again)
    assert markdown.startswith("## 🔁 Retrain — batch `2026-07`")
    assert "**Why retrain:**" in markdown and "version 4" in markdown
