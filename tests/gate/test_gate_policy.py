"""The gate's verdicts on synthetic predictions: pass, fail, inconclusive, floors, no change."""

from __future__ import annotations

import numpy as np
import pytest

from mlship.config import GateParams
from mlship.errors import ParamsError
from mlship.gate.policy import GateResult, judge

ROWS = 2000


def _labels(seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).random(ROWS) < 0.3).astype(np.float64)


def _scores(y: np.ndarray, noise: float, seed: int) -> np.ndarray:
    """Scores whose quality falls as `noise` grows."""
    rng = np.random.default_rng(seed)
    raw = y + rng.normal(scale=noise, size=len(y))
    return np.asarray(1 / (1 + np.exp(-2 * (raw - 0.5))))


def _policy(**metrics: dict[str, float]) -> GateParams:
    return GateParams.model_validate(
        {"metrics": metrics or {"roc_auc": {"max_drop": 0.01}}, "resamples": 400, "seed": 7}
    )


def _judge(policy: GateParams, baseline: np.ndarray | None, candidate: np.ndarray) -> GateResult:
    return judge(policy, "binary", _labels(), candidate, baseline, (0.5, 0.5))


def test_gate_passes_a_candidate_as_good_as_main() -> None:
    y = _labels()
    baseline = _scores(y, 0.6, 1)
    # A retrain: the same model up to small per-row jitter.
    candidate = np.clip(baseline + np.random.default_rng(5).normal(scale=0.02, size=ROWS), 0, 1)
    result = _judge(_policy(), baseline, candidate)
    assert result.verdict == "pass"
    assert result.metrics[0].verdict == "pass"
    assert result.metrics[0].low is not None and result.metrics[0].low >= -0.01


def test_gate_fails_when_auc_drops_beyond_tolerance() -> None:
    y = _labels()
    result = _judge(_policy(), _scores(y, 0.5, 1), _scores(y, 1.5, 2))
    auc = result.metrics[0]
    assert result.verdict == "fail" and auc.verdict == "fail"
    assert auc.delta is not None and auc.delta < -0.05
    assert auc.high is not None and auc.high < -0.01
    (line,) = result.failure_lines()
    assert line.startswith("roc_auc: fail")
    for part in ("baseline 0.", "candidate 0.", "delta -0.", "95% CI [-0.", "drop at most 0.01"):
        assert part in line


def test_gate_fails_when_log_loss_rises_beyond_tolerance() -> None:
    y = _labels()
    result = _judge(_policy(log_loss={"max_drop": 0.01}), _scores(y, 0.5, 1), _scores(y, 1.5, 2))
    loss = result.metrics[0]
    assert loss.verdict == "fail" and loss.delta is not None and loss.delta > 0
    assert "rise at most 0.01" in result.failure_lines()[0]


@pytest.mark.parametrize("rule, overall", [("pass", "pass"), ("fail", "fail")])
def test_inconclusive_difference_follows_the_configured_rule(rule: str, overall: str) -> None:
    y = _labels()
    baseline, candidate = _scores(y, 0.6, 1), _scores(y, 0.75, 2)
    probe = _judge(_policy(), baseline, candidate).metrics[0]
    assert probe.delta is not None and probe.delta < 0
    # A tolerance equal to the observed drop sits inside the interval: neither pass nor fail.
    policy = GateParams.model_validate(
        {
            "metrics": {"roc_auc": {"max_drop": -probe.delta}},
            "resamples": 400,
            "seed": 7,
            "inconclusive": rule,
        }
    )
    result = _judge(policy, baseline, candidate)
    assert result.metrics[0].verdict == "inconclusive"
    assert result.verdict == overall
    assert bool(result.failure_lines()) == (overall == "fail")


def test_without_baseline_only_floors_are_checked_and_the_result_says_so() -> None:
    y = _labels()
    candidate = _scores(y, 1.0, 2)
    met = _judge(_policy(roc_auc={"floor": 0.5, "max_drop": 0.0}), None, candidate)
    broken = _judge(_policy(roc_auc={"floor": 0.99, "max_drop": 0.0}), None, candidate)
    assert met.verdict == "pass" and met.mode == "floors_only"
    assert any("only floors were checked" in note for note in met.notes)
    assert broken.verdict == "fail"
    assert "below floor 0.99" in broken.failure_lines()[0]


def test_floor_fails_a_candidate_even_when_main_is_as_bad() -> None:
    y = _labels()
    weak = _scores(y, 3.0, 1)
    result = _judge(_policy(roc_auc={"floor": 0.9, "max_drop": 0.5}), weak, _scores(y, 3.0, 2))
    assert result.verdict == "fail"
    assert result.metrics[0].reason.startswith("candidate below floor")


def test_identical_predictions_pass_with_no_metric_change() -> None:
    y = _labels()
    scores = _scores(y, 0.6, 1)
    result = _judge(_policy(roc_auc={"max_drop": 0.0}, pr_auc={"max_drop": 0.0}), scores, scores)
    assert result.verdict == "pass" and result.mode == "no_change"
    assert all(m.delta == 0 and m.reason == "no metric change" for m in result.metrics)
    assert "no metric change" in result.to_markdown()


def test_policy_naming_a_metric_the_task_lacks_is_a_params_error() -> None:
    y = _labels()
    with pytest.raises(ParamsError, match="'gate.metrics.rmse': not a metric of task 'binary'"):
        _judge(_policy(rmse={"max_drop": 0.1}), None, _scores(y, 1.0, 1))


def test_empty_policy_is_a_params_error() -> None:
    y = _labels()
    with pytest.raises(ParamsError, match="gate.metrics' is empty"):
        judge(GateParams(), "binary", y, _scores(y, 1.0, 1), None, (0.5, 0.5))


def test_regression_gate_fails_when_rmse_rises() -> None:
    rng = np.random.default_rng(3)
    y = rng.normal(size=ROWS)
    good, bad = y + rng.normal(scale=0.3, size=ROWS), y + rng.normal(scale=0.6, size=ROWS)
    policy = GateParams.model_validate({"metrics": {"rmse": {"max_drop": 0.05}, "r2": {}}})
    result = judge(policy, "regression", y, bad, good, (0.5, 0.5))
    assert result.verdict == "fail"
    assert {m.name: m.verdict for m in result.metrics} == {"rmse": "fail", "r2": "fail"}
