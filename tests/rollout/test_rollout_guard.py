"""The canary's performance guard: the challenger's live metric on labels against the champion's."""

from __future__ import annotations

from mlship.config import RolloutParams
from mlship.monitoring.live import Estimate
from mlship.rollout.observe import RoleFigures
from mlship.rollout.policy import LiveFigures, judge

GUARDED = RolloutParams(
    min_requests=1, performance_guard=True, performance_margin=0.02, min_labelled_rows=100
)
TRAFFIC = RoleFigures(requests=50.0), RoleFigures(requests=50.0)


def _auc(value: float, spread: float, n: int = 400) -> Estimate:
    return Estimate("roc_auc", value, value - spread, value + spread, n)


def test_guard_is_off_by_default_whatever_the_labels_say() -> None:
    bad = LiveFigures(_auc(0.55, 0.02), _auc(0.81, 0.02))
    assert judge(*TRAFFIC, RolloutParams(min_requests=1), bad) == []


def test_guard_breaches_when_the_challengers_interval_is_below_the_champion_minus_margin() -> None:
    (breach,) = judge(*TRAFFIC, GUARDED, LiveFigures(_auc(0.70, 0.03), _auc(0.81, 0.02)))
    assert breach.startswith("live roc_auc 0.7000 [0.6700, 0.7300] is worse than the champion's")


def test_guard_passes_when_the_interval_reaches_the_champion_minus_margin() -> None:
    assert judge(*TRAFFIC, GUARDED, LiveFigures(_auc(0.78, 0.02), _auc(0.81, 0.02))) == []


def test_guard_on_a_lower_is_better_metric_breaches_upwards() -> None:
    loss = Estimate("log_loss", 0.60, 0.55, 0.65, 300)
    champion = Estimate("log_loss", 0.42, 0.40, 0.44, 300)
    params = GUARDED.model_copy(update={"performance_metric": "log_loss"})
    assert len(judge(*TRAFFIC, params, LiveFigures(loss, champion))) == 1


def test_guard_without_enough_labels_is_a_breach_naming_the_role() -> None:
    breaches = judge(*TRAFFIC, GUARDED, LiveFigures(_auc(0.8, 0.1, n=20), None))
    assert breaches == [
        "challenger has 20 labelled rows, fewer than min_labelled_rows=100",
        "champion has 0 labelled rows, fewer than min_labelled_rows=100",
    ]
