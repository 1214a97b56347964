"""Whether to retrain on a new batch, and why: drift, performance drop, model age, or forced."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

from mlship.monitoring.results import DriftResult

Action = Literal["retrain", "skip", "invalid"]


@dataclass
class Decision:  # pylint: disable=too-many-instance-attributes  # one flat JSON record
    """What the retrain loop decided for one batch and what happened next."""

    month: str
    batch: str
    action: Action
    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    outcome: str = "decided"
    gate_verdict: str | None = None
    registered_version: str | None = None
    drift: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe view."""
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Decision:
        """Read back what `to_dict` wrote."""
        return cls(**{f.name: raw[f.name] for f in fields(cls) if f.name in raw})

    def headline(self) -> str:
        """One line: the decision and its first reason."""
        if self.action == "invalid":
            return f"batch {self.month} failed validation: nothing trained or registered"
        if self.action == "skip":
            return f"no retrain for {self.month}: " + "; ".join(self.notes)
        return f"retrain on {self.month}: " + "; ".join(self.reasons)


def drift_reasons(result: DriftResult) -> tuple[list[str], list[str]]:
    """(reasons to retrain, notes on what did not drift) from a drift check."""
    reasons: list[str] = []
    notes: list[str] = []
    if result.drifted_features:
        shown = ", ".join(f"`{c}`" for c in result.drifted_features[:8])
        more = len(result.drifted_features) - 8
        reasons.append(
            f"data drift in {len(result.drifted_features)} of {len(result.columns)} features: "
            + shown
            + (f" and {more} more" if more > 0 else "")
        )
    else:
        notes.append(f"no feature drifted ({len(result.columns)} tested)")
    domain = result.domain
    if domain is not None:
        text = (
            f"domain classifier ROC AUC {domain.auc:.3f} "
            f"[{domain.auc_low:.3f}, {domain.auc_high:.3f}] vs threshold {domain.threshold:.2f}"
        )
        (reasons if domain.drifted else notes).append(text)
    if result.prediction is not None and result.prediction.drifted:
        reasons.append(f"prediction drift ({result.prediction.reason})")
    perf = result.performance
    if perf is not None:
        text = (
            f"performance {perf.reference:.3f} → {perf.current:.3f} on the batch's labels "
            f"(drop {perf.drop:.3f}, limit {perf.threshold:.3f})"
        )
        (reasons if perf.drifted else notes).append(text)
    else:
        notes.append("performance not compared (no labels or no held-out metric)")
    return reasons, notes


def decide(
    month: str,
    batch: str,
    result: DriftResult,
    model_age_days: float | None,
    max_age_days: int | None,
    force: bool = False,
    trigger: str | None = None,
) -> Decision:
    """Retrain when forced, triggered by the production monitor, on drift or a performance
    drop, or when the champion is too old.

    The monitor's trigger (concept drift seen on live labels, a KPI alert, live data drift) is a
    reason of its own: a concept shift leaves the batch's inputs unchanged, so the batch's
    drift check cannot see it.
    """
    reasons, notes = drift_reasons(result)
    if trigger:
        reasons.insert(0, f"triggered by production monitoring: {trigger}")
    if force:
        reasons.insert(0, "forced by the workflow input or RETRAIN_FORCE")
    if model_age_days is None:
        notes.append("champion's training date unknown: model age not checked")
    elif max_age_days is not None and model_age_days > max_age_days:
        reasons.append(
            f"champion trained {model_age_days:.0f} days ago (max_model_age_days {max_age_days})"
        )
    else:
        limit = "no limit" if max_age_days is None else f"limit {max_age_days}"
        notes.append(f"champion trained {model_age_days:.0f} days ago ({limit})")
    action: Action = "retrain" if reasons else "skip"
    return Decision(month, batch, action, reasons, notes, drift=_drift_summary(result))


def _drift_summary(result: DriftResult) -> dict[str, Any]:
    return {
        "drifted": result.drifted,
        "drifted_features": list(result.drifted_features),
        "domain_auc": None if result.domain is None else result.domain.auc,
        "n_reference": result.n_reference,
        "n_current": result.n_current,
    }
