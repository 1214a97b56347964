"""Judge a candidate model against a baseline on the same rows, metric by metric."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np

from mlship.config import GateParams, Task
from mlship.errors import ParamsError
from mlship.files import json_safe
from mlship.model.bootstrap import WEIGHTED, FloatArray, interval, paired_differences
from mlship.model.metrics import HIGHER_IS_BETTER, compute_metrics

Verdict = Literal["pass", "fail", "inconclusive"]
# What the gate says when a PR's `gate:` differs from main's, whose policy judges it.
POLICY_CHANGE = "this PR changes the gate policy; it takes effect after merge"
Mode = Literal["compared", "no_change", "floors_only", "incomparable"]


@dataclass(frozen=True)
class MetricVerdict:
    """The gate's judgement of one metric; `delta` and the interval are candidate - baseline."""

    name: str
    higher_is_better: bool
    candidate: float
    baseline: float | None
    delta: float | None
    low: float | None
    high: float | None
    floor: float | None
    max_drop: float
    verdict: Verdict
    reason: str

    def line(self, confidence: float, rule: str) -> str:
        """One line naming metric, baseline, candidate, delta, interval and threshold."""
        head = f"{self.name}: {self.verdict}"
        if self.verdict == "inconclusive":
            head += f" (counted as {rule} by gate.inconclusive)"
        parts = [
            f"baseline {_num(self.baseline)}",
            f"candidate {_num(self.candidate)}",
            f"delta {_signed(self.delta)}",
            f"{confidence:.0%} CI [{_signed(self.low)}, {_signed(self.high)}]",
            f"threshold: {self.threshold()}",
        ]
        return f"{head} — {self.reason}; " + ", ".join(parts)

    def threshold(self) -> str:
        """The policy in words."""
        worse = "drop" if self.higher_is_better else "rise"
        text = f"{worse} at most {self.max_drop:.4g}"
        if self.floor is not None:
            text += f", {'floor' if self.higher_is_better else 'ceiling'} {self.floor:.4g}"
        return text


@dataclass(frozen=True)
class GateResult:
    """The gate's verdict and everything a reviewer needs to check it."""

    verdict: Literal["pass", "fail"]
    mode: Mode
    rows: int
    resamples: int
    confidence: float
    inconclusive: str
    metrics: list[MetricVerdict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def counted_as_failures(self) -> list[MetricVerdict]:
        """Metrics that make the gate fail."""
        return [
            m
            for m in self.metrics
            if m.verdict == "fail" or (m.verdict == "inconclusive" and self.inconclusive == "fail")
        ]

    def failure_lines(self) -> list[str]:
        """One line per failing metric (or the reason nothing could be compared)."""
        lines = [m.line(self.confidence, self.inconclusive) for m in self.counted_as_failures()]
        if self.mode == "incomparable":
            lines = [f"gate: fail — {note}" for note in self.notes] + lines
        return lines

    def to_markdown(self) -> str:
        """The verdict, its notes and one table row per gated metric."""
        icon = "✅" if self.verdict == "pass" else "❌"
        lines = [f"**Metric gate: {icon} {self.verdict}**"]
        lines += [f"- {note}" for note in self.notes]
        if self.mode == "compared":
            lines.append(
                f"- paired bootstrap over the same {self.rows} held-out rows, "
                f"{self.resamples} resamples; inconclusive counts as {self.inconclusive}"
            )
        lines += [
            "",
            f"| metric | main | PR | Δ | {self.confidence:.0%} CI of Δ | policy | verdict |",
            "|---|---:|---:|---:|---|---|---|",
        ]
        marks = {"fail": "❌ fail", "inconclusive": "⚠️ inconclusive"}
        for m in self.metrics:
            arrow = "↑" if m.higher_is_better else "↓"
            interval_text = "n/a" if m.low is None else f"[{_signed(m.low)}, {_signed(m.high)}]"
            lines.append(
                f"| {m.name} {arrow} | {_num(m.baseline)} | {_num(m.candidate)} | "
                f"{_signed(m.delta)} | {interval_text} | {m.threshold()} | "
                f"{marks.get(m.verdict, '✅ pass')}: {m.reason} |"
            )
        return "\n".join(lines) + "\n"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe view (NaN becomes null)."""
        safe: dict[str, Any] = json_safe(asdict(self))
        return safe


def _num(value: float | None) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.4f}"


def _signed(value: float | None) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:+.4f}"


def check_policy(policy: GateParams, task: Task) -> None:
    """Fail naming the key when the policy gates nothing or a metric the task lacks."""
    if not policy.metrics:
        raise ParamsError("params.yaml: 'gate.metrics' is empty: list at least one metric to gate")
    known = WEIGHTED[task]
    for name in policy.metrics:
        if name not in known:
            raise ParamsError(
                f"params.yaml: 'gate.metrics.{name}': not a metric of task '{task}' "
                f"(known: {', '.join(known)})"
            )


def _floor_broken(value: float, floor: float | None, higher: bool) -> bool:
    if floor is None:
        return False
    if math.isnan(value):
        return True
    return value < floor if higher else value > floor


def judge(
    policy: GateParams,
    task: Task,
    y_true: FloatArray,
    candidate: FloatArray,
    baseline: FloatArray | None,
    thresholds: tuple[float, float],
    notes: list[str] | None = None,
) -> GateResult:
    """Apply the policy: floors always; against a baseline, a paired bootstrap of the difference.

    A metric passes when the interval's worse end stays within `max_drop`, fails when even its
    better end is beyond it (or the floor is broken), and is inconclusive otherwise.
    """
    check_policy(policy, task)
    names = list(policy.metrics)
    notes = list(notes or [])
    cand_values = compute_metrics(task, y_true, candidate, thresholds[1])
    if baseline is None:
        mode: Mode = "floors_only"
        notes.append("no model from main to compare with: only floors were checked")
        differences: dict[str, FloatArray] = {}
        base_values: dict[str, float] = {}
    elif np.array_equal(baseline, candidate) and thresholds[0] == thresholds[1]:
        mode = "no_change"
        notes.append("no metric change: the candidate's predictions equal main's on every row")
        differences = {name: np.zeros(1) for name in names}
        base_values = cand_values
    else:
        mode = "compared"
        base_values = compute_metrics(task, y_true, baseline, thresholds[0])
        differences = paired_differences(
            task, names, y_true, baseline, candidate, thresholds, policy.resamples, policy.seed
        )
    verdicts = [
        _judge_metric(name, policy, cand_values[name], base_values.get(name), differences.get(name))
        for name in names
    ]
    failed = any(
        v.verdict == "fail" or (v.verdict == "inconclusive" and policy.inconclusive == "fail")
        for v in verdicts
    )
    return GateResult(
        "fail" if failed else "pass",
        mode,
        len(y_true),
        policy.resamples,
        policy.confidence,
        policy.inconclusive,
        verdicts,
        notes,
    )


def _judge_metric(  # pylint: disable=too-many-return-statements  # one return per rule
    name: str,
    policy: GateParams,
    candidate: float,
    baseline: float | None,
    differences: FloatArray | None,
) -> MetricVerdict:
    rule = policy.metrics[name]
    higher = HIGHER_IS_BETTER[name]
    floor_text = f"{'below floor' if higher else 'above ceiling'} {rule.floor}"

    def verdict(
        outcome: Verdict, reason: str, low: float | None = None, high: float | None = None
    ) -> MetricVerdict:
        delta = None if baseline is None else candidate - baseline
        return MetricVerdict(
            name, higher, candidate, baseline, delta, low, high, rule.floor, rule.max_drop,
            outcome, reason,
        )  # fmt: skip

    if math.isnan(candidate):
        return verdict("fail", "the candidate's metric is undefined on the held-out rows")
    if differences is None or baseline is None:
        if _floor_broken(candidate, rule.floor, higher):
            return verdict("fail", f"candidate {floor_text}")
        return verdict("pass", "floor met" if rule.floor is not None else "no floor set")
    low, high = interval(differences, policy.confidence)
    if _floor_broken(candidate, rule.floor, higher):
        return verdict("fail", f"candidate {floor_text}", low, high)
    if not np.any(differences):
        return verdict("pass", "no metric change", low, high)
    # Gain is the difference signed so that positive means better.
    gain_low, gain_high = (low, high) if higher else (-high, -low)
    if math.isnan(gain_low):
        return verdict("inconclusive", "the difference is undefined on the resamples", low, high)
    if gain_low >= -rule.max_drop:
        # Better on every resample's interval: say so, a reviewer reads "improved" first.
        return verdict("pass", "improved" if gain_low > 0 else "within tolerance", low, high)
    if gain_high < -rule.max_drop:
        worse = "dropped" if higher else "rose"
        return verdict("fail", f"{worse} beyond the allowed {rule.max_drop:.4g}", low, high)
    return verdict("inconclusive", "the interval straddles the allowed drop", low, high)
