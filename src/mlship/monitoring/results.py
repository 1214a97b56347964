"""The results of a drift check: per column, domain classifier, performance, and the whole."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal


from mlship.config import DriftSettings
from mlship.files import json_safe


@dataclass(frozen=True)
class ColumnMeasures:  # pylint: disable=too-many-instance-attributes  # one flat JSON record
    """What the per-column tests measured on one column (or on the model's predictions)."""

    name: str
    kind: Literal["numeric", "categorical"]
    statistic: float
    p_value: float
    effect: float
    psi: float
    missing_ref: float
    missing_cur: float
    new_categories: tuple[tuple[str, float], ...]
    new_category_share: float
    n_ref: int
    n_cur: int


@dataclass(frozen=True)
class ColumnDrift(ColumnMeasures):
    """Drift statistics and verdict for one column (or for the model's predictions)."""

    test: Literal["ks", "chi2"]
    p_adjusted: float
    drifted: bool
    reason: str

    @property
    def severity(self) -> float:
        """Return the largest share of mass that moved: KS D / total variation, missing, new."""
        return max(self.effect, abs(self.missing_cur - self.missing_ref), self.new_category_share)


@dataclass(frozen=True)
class ColumnStats(ColumnMeasures):
    """One column's statistics before multiple-testing correction, and what the others need.

    ``categories`` are the categories kept (the rest pooled), which the domain classifier
    encodes; ``sampled`` says KS and PSI ran on a sample of ``ks_sample_rows``.
    """

    categories: tuple[Any, ...] = ()
    sampled: bool = False


@dataclass(frozen=True)
class DomainClassifierResult:
    """How well a classifier tells current rows from reference rows, and which features help."""

    auc: float
    auc_low: float
    auc_high: float
    ci_level: float
    threshold: float
    drifted: bool
    importances: tuple[tuple[str, float], ...]
    roc_curve: tuple[tuple[float, float], ...]
    n_ref: int
    n_cur: int


@dataclass(frozen=True)
class PerformanceDrift:
    """The model's metric on reference and current data; higher is better."""

    metric: str
    reference: float
    current: float
    drop: float
    threshold: float
    drifted: bool


@dataclass(frozen=True)
class DriftResult:
    """Everything a drift check found; ``columns`` keep the order they were asked in."""

    columns: tuple[ColumnDrift, ...]
    domain: DomainClassifierResult | None
    prediction: ColumnDrift | None
    performance: PerformanceDrift | None
    drifted: bool
    drifted_features: tuple[str, ...]
    n_reference: int
    n_current: int
    settings: DriftSettings
    notes: tuple[str, ...] = field(default=())

    def column(self, name: str) -> ColumnDrift:
        """Return the result for one column."""
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)

    def ranked_columns(self) -> list[ColumnDrift]:
        """Return drifted columns first, each group by decreasing severity then name."""
        return sorted(self.columns, key=lambda c: (not c.drifted, -c.severity, c.name))

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict (NaN becomes None)."""
        return {
            "drifted": self.drifted,
            "drifted_features": list(self.drifted_features),
            "n_reference": self.n_reference,
            "n_current": self.n_current,
            "columns": [json_safe(_column_dict(c)) for c in self.columns],
            "domain_classifier": None if self.domain is None else json_safe(vars(self.domain)),
            "prediction": (
                None if self.prediction is None else json_safe(_column_dict(self.prediction))
            ),
            "performance": None if self.performance is None else json_safe(vars(self.performance)),
            "settings": self.settings.model_dump(),
            "notes": list(self.notes),
        }


def _column_dict(col: ColumnDrift) -> dict[str, Any]:
    out = dict(vars(col))
    out["new_categories"] = [{"category": k, "share": v} for k, v in col.new_categories]
    out["severity"] = col.severity
    return out
