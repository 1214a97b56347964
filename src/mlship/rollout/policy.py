"""A rollout's policy: judge one window of the challenger against the champion; what each step
and the whole rollout record."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

from mlship.config import RolloutParams
from mlship.model.metrics import HIGHER_IS_BETTER
from mlship.monitoring.live import Estimate, worse_beyond
from mlship.rollout.observe import RoleFigures, prediction_psi

Decision = Literal["promoted", "rolled_back"]


@dataclass
class StepReport:
    """What one canary step observed and why it passed or failed."""

    step: int
    weight: int
    seconds: float
    challenger_requests: float
    champion_requests: float
    challenger_error_rate: float
    champion_error_rate: float
    challenger_p95_ms: float
    champion_p95_ms: float
    psi: float
    breaches: list[str] = field(default_factory=list)

    def line(self) -> str:
        """One printable line."""
        verdict = "BREACH: " + "; ".join(self.breaches) if self.breaches else "pass"
        return (
            f"step {self.step} ({self.weight}% to challenger, {self.seconds:.1f}s): "
            f"requests challenger={self.challenger_requests:.0f} "
            f"champion={self.champion_requests:.0f}, "
            f"error rate {self.challenger_error_rate:.2%} vs {self.champion_error_rate:.2%}, "
            f"p95 {self.challenger_p95_ms:.1f}ms vs {self.champion_p95_ms:.1f}ms, "
            f"PSI {self.psi:.3f} -> {verdict}"
        )

    def metrics(self) -> dict[str, float]:
        """Numeric fields for MLflow."""
        out = {k: float(v) for k, v in asdict(self).items() if isinstance(v, (int, float))}
        out["breached"] = float(bool(self.breaches))
        return out


@dataclass
class RolloutResult:
    """How a rollout ended."""

    decision: Decision
    champion: str
    challenger: str
    steps: list[StepReport]
    reason: str
    run_id: str | None = None


@dataclass(frozen=True)
class LiveFigures:
    """The guard's metric on the labels of each role's predictions during the rollout."""

    challenger: Estimate | None
    champion: Estimate | None


def performance_breaches(live: LiveFigures, policy: RolloutParams) -> list[str]:
    """Whether the challenger's live metric is worse than the champion's beyond the margin.

    The two models answered different rows, so no pairing: the challenger breaches when its
    whole bootstrap interval is worse than the champion's value by more than the margin.
    Too few labelled rows is a breach, as too few requests is: the guard cannot vouch for it.
    """
    short = [
        f"{role} has {0 if figure is None else figure.n} labelled rows, fewer than "
        f"min_labelled_rows={policy.min_labelled_rows}"
        for role, figure in (("challenger", live.challenger), ("champion", live.champion))
        if figure is None or figure.n < policy.min_labelled_rows
    ]
    if short or live.challenger is None or live.champion is None:
        return short
    new, old, margin = live.challenger, live.champion, policy.performance_margin
    if not worse_beyond(new, old.value, margin, HIGHER_IS_BETTER[new.name]):
        return []
    return [
        f"live {new.name} {new.value:.4f} [{new.low:.4f}, {new.high:.4f}] is worse than the "
        f"champion's {old.value:.4f} by more than performance_margin={margin:g}"
    ]


def judge(
    challenger: RoleFigures,
    champion: RoleFigures,
    policy: RolloutParams,
    live: LiveFigures | None = None,
) -> list[str]:
    """Every way the challenger's window breaches the policy (empty: the step passes).

    `live` is read only when `policy.performance_guard` is on.
    """
    breaches = []
    for role, figures in (("challenger", challenger), ("champion", champion)):
        if figures.requests < policy.min_requests:
            breaches.append(
                f"{role} answered {figures.requests:.0f} requests, fewer than "
                f"min_requests={policy.min_requests}"
            )
    if breaches:
        return breaches
    increase = challenger.error_rate - champion.error_rate
    if increase > policy.max_error_rate_increase:
        breaches.append(
            f"error rate {challenger.error_rate:.2%} exceeds the champion's "
            f"{champion.error_rate:.2%} by more than {policy.max_error_rate_increase:.2%}"
        )
    base = champion.p95_seconds
    allowed = max(base * policy.max_p95_ratio, base + policy.p95_slack_ms / 1000.0)
    if challenger.p95_seconds > allowed:
        breaches.append(
            f"p95 latency {challenger.p95_seconds * 1000:.1f}ms exceeds the allowed "
            f"{allowed * 1000:.1f}ms (champion {base * 1000:.1f}ms)"
        )
    shift = prediction_psi(champion, challenger)
    if shift > policy.max_psi:
        breaches.append(f"prediction PSI {shift:.3f} exceeds max_psi={policy.max_psi}")
    if policy.performance_guard:
        breaches += performance_breaches(live or LiveFigures(None, None), policy)
    return breaches
