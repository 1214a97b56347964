"""The controller reads the service's own metric families and judges a window correctly."""

from __future__ import annotations

import math

import pytest
from prometheus_client import generate_latest

from mlship.config import RolloutParams
from mlship.monitoring.statistics import psi
from mlship.rollout.policy import judge
from mlship.rollout.observe import (
    MetricsError,
    RoleFigures,
    parse_metrics,
    prediction_psi,
    quantile,
)
from mlship.serving.metrics import ServiceMetrics

POLICY = RolloutParams(min_requests=10, max_error_rate_increase=0.01, max_psi=0.2)


def _service_text(
    requests: dict[str, int],
    errors: dict[str, int],
    latency: dict[str, float],
    scores: dict[str, list[float]],
) -> str:
    metrics = ServiceMetrics("binary")
    for role, count in requests.items():
        version = "1" if role == "champion" else "2"
        for _ in range(count):
            metrics.requests.labels(role, version).inc()
            metrics.latency.labels(role, version).observe(latency[role])
        metrics.errors.labels(role, version).inc(errors.get(role, 0))
        for value in scores[role]:
            metrics.values.labels(role, version).observe(value)
    return generate_latest(metrics.registry).decode()


def _figures(text: str) -> tuple[RoleFigures, RoleFigures]:
    snapshot = parse_metrics(text)
    return snapshot["challenger"], snapshot["champion"]


def _spread(centre: float, count: int = 400) -> list[float]:
    return [min(0.999, max(0.001, centre + (i % 40 - 20) / 100)) for i in range(count)]


def test_parse_reads_requests_errors_latency_and_predictions_of_each_role() -> None:
    text = _service_text(
        {"champion": 90, "challenger": 10},
        {"challenger": 3},
        {"champion": 0.004, "challenger": 0.3},
        {"champion": [0.1] * 90, "challenger": [0.9] * 10},
    )
    challenger, champion = _figures(text)
    assert (champion.requests, champion.errors) == (90, 0)
    assert (challenger.requests, challenger.errors) == (10, 3)
    assert challenger.versions == {"2"}
    assert 0.25 < challenger.p95_seconds <= 0.5
    assert champion.p95_seconds <= 0.005


def test_parse_names_the_families_a_foreign_metrics_page_lacks() -> None:
    with pytest.raises(MetricsError, match="mlship_predict_requests"):
        parse_metrics("# TYPE other_total counter\nother_total 1\n")


def test_window_is_the_difference_of_two_scrapes() -> None:
    before = _service_text(
        {"champion": 5, "challenger": 5}, {}, {"champion": 0.01, "challenger": 0.01},
        {"champion": [0.2] * 5, "challenger": [0.2] * 5},
    )  # fmt: skip
    after = _service_text(
        {"champion": 5, "challenger": 25}, {"challenger": 4},
        {"champion": 0.01, "challenger": 0.01},
        {"champion": [0.2] * 5, "challenger": [0.2] * 25},
    )  # fmt: skip
    window = parse_metrics(after)["challenger"].minus(parse_metrics(before)["challenger"])
    assert (window.requests, window.errors) == (20, 4)
    assert window.error_rate == pytest.approx(0.2)


def test_quantile_interpolates_inside_the_bucket_like_prometheus() -> None:
    cumulative = {0.1: 50.0, 0.2: 100.0, math.inf: 100.0}
    assert quantile(cumulative, 0.5) == pytest.approx(0.1)
    assert quantile(cumulative, 0.75) == pytest.approx(0.15)
    assert quantile({0.1: 0.0, math.inf: 10.0}, 0.95) == pytest.approx(0.1)


def test_psi_is_zero_for_equal_distributions_and_large_for_a_shift() -> None:
    assert psi([0.5, 0.5], [0.5, 0.5]) == pytest.approx(0.0)
    assert psi([0.9, 0.1], [0.1, 0.9]) > 1.0


def test_prediction_psi_flags_shifted_scores_but_not_resampled_ones() -> None:
    same = _service_text(
        {"champion": 1, "challenger": 1}, {}, {"champion": 0.01, "challenger": 0.01},
        {"champion": _spread(0.3, 2000), "challenger": _spread(0.3, 300)},
    )  # fmt: skip
    challenger, champion = _figures(same)
    assert prediction_psi(champion, challenger) < 0.05
    shifted = _service_text(
        {"champion": 1, "challenger": 1}, {}, {"champion": 0.01, "challenger": 0.01},
        {"champion": _spread(0.3, 2000), "challenger": _spread(0.6, 300)},
    )  # fmt: skip
    challenger, champion = _figures(shifted)
    assert prediction_psi(champion, challenger) > 0.5


def test_judge_passes_a_challenger_like_the_champion() -> None:
    text = _service_text(
        {"champion": 200, "challenger": 40}, {}, {"champion": 0.004, "challenger": 0.004},
        {"champion": _spread(0.3, 2000), "challenger": _spread(0.3, 400)},
    )  # fmt: skip
    assert not judge(*_figures(text), POLICY)


@pytest.mark.parametrize(
    ("errors", "latency", "centre", "breach"),
    [
        (8, 0.004, 0.3, "error rate"),
        (0, 0.4, 0.3, "p95 latency"),
        (0, 0.004, 0.7, "prediction PSI"),
    ],
)
def test_judge_names_each_breach(errors: int, latency: float, centre: float, breach: str) -> None:
    text = _service_text(
        {"champion": 200, "challenger": 40}, {"challenger": errors},
        {"champion": 0.004, "challenger": latency},
        {"champion": _spread(0.3, 2000), "challenger": _spread(centre, 400)},
    )  # fmt: skip
    breaches = judge(*_figures(text), POLICY)
    assert len(breaches) == 1 and breaches[0].startswith(breach), breaches


def test_judge_refuses_to_decide_on_too_little_traffic() -> None:
    text = _service_text(
        {"champion": 200, "challenger": 3}, {}, {"champion": 0.004, "challenger": 0.004},
        {"champion": _spread(0.3), "challenger": _spread(0.3, 30)},
    )  # fmt: skip
    breaches = judge(*_figures(text), POLICY)
    assert breaches == ["challenger answered 3 requests, fewer than min_requests=10"]


def test_rollout_params_reject_steps_that_do_not_end_at_100() -> None:
    with pytest.raises(ValueError, match="end at 100"):
        RolloutParams(steps=(5, 25, 50))
