"""Read the service's Prometheus `/metrics` and turn two scrapes into per-role figures."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

from mlship.errors import MetricsError
from mlship.monitoring.statistics import psi


@dataclass(frozen=True)
class MetricNames:
    """Prometheus family names and the label that tells champion from challenger."""

    requests: str = "mlship_predict_requests"
    errors: str = "mlship_predict_errors"
    latency: str = "mlship_predict_latency_seconds"
    predictions: str = "mlship_prediction_value"
    role_label: str = "role"
    version_label: str = "version"


@dataclass
class RoleFigures:
    """Counters of one model role at one scrape (or the difference of two scrapes)."""

    requests: float = 0.0
    errors: float = 0.0
    latency_buckets: dict[float, float] = field(default_factory=dict)
    prediction_buckets: dict[float, float] = field(default_factory=dict)
    versions: set[str] = field(default_factory=set)

    def minus(self, earlier: RoleFigures) -> RoleFigures:
        """What happened between `earlier` and this scrape."""
        return RoleFigures(
            requests=self.requests - earlier.requests,
            errors=self.errors - earlier.errors,
            latency_buckets=_minus(self.latency_buckets, earlier.latency_buckets),
            prediction_buckets=_minus(self.prediction_buckets, earlier.prediction_buckets),
            versions=set(self.versions),
        )

    @property
    def error_rate(self) -> float:
        """Errors per request (0 when there was no request)."""
        return self.errors / self.requests if self.requests > 0 else 0.0

    @property
    def p95_seconds(self) -> float:
        """95th percentile latency estimated from the histogram buckets."""
        return quantile(self.latency_buckets, 0.95)


def _minus(later: Mapping[float, float], earlier: Mapping[float, float]) -> dict[float, float]:
    return {bound: count - earlier.get(bound, 0.0) for bound, count in later.items()}


Snapshot = dict[str, RoleFigures]


def parse_metrics(text: str, names: MetricNames = MetricNames()) -> Snapshot:
    """Sum the service's counters and histograms per role (over versions and other labels)."""
    roles: Snapshot = {}
    seen: set[str] = set()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            role = sample.labels.get(names.role_label)
            if role is None:
                continue
            figures = roles.setdefault(role, RoleFigures())
            version = sample.labels.get(names.version_label)
            if version:
                figures.versions.add(version)
            if family.name == names.requests and sample.name.endswith("_total"):
                figures.requests += sample.value
                seen.add(names.requests)
            elif family.name == names.errors and sample.name.endswith("_total"):
                figures.errors += sample.value
                seen.add(names.errors)
            elif sample.name == f"{names.latency}_bucket":
                _add_bucket(figures.latency_buckets, sample.labels["le"], sample.value)
                seen.add(names.latency)
            elif sample.name == f"{names.predictions}_bucket":
                _add_bucket(figures.prediction_buckets, sample.labels["le"], sample.value)
                seen.add(names.predictions)
    missing = sorted({names.requests, names.latency, names.predictions} - seen)
    if missing:
        raise MetricsError(f"/metrics has no {', '.join(missing)} per '{names.role_label}'")
    return roles


def _add_bucket(buckets: dict[float, float], bound: str, value: float) -> None:
    key = float(bound)
    buckets[key] = buckets.get(key, 0.0) + value


def quantile(cumulative: Mapping[float, float], q: float) -> float:
    """Quantile of a cumulative histogram, interpolated inside a bucket like Prometheus does.

    An observation beyond the last finite bound counts as that bound (Prometheus' convention),
    so buckets must reach past the latencies that matter.
    """
    bounds = sorted(cumulative)
    if not bounds or cumulative[bounds[-1]] <= 0:
        return 0.0
    total = cumulative[bounds[-1]]
    rank = q * total
    lower, below = 0.0, 0.0
    finite = [b for b in bounds if math.isfinite(b)]
    for bound in bounds:
        count = cumulative[bound]
        if count >= rank:
            if not math.isfinite(bound):
                return finite[-1] if finite else 0.0
            if count == below:
                return bound
            return lower + (bound - lower) * (rank - below) / (count - below)
        lower, below = bound, count
    return finite[-1] if finite else 0.0


def bucket_shares(cumulative: Mapping[float, float]) -> list[float]:
    """Share of observations in each bucket (cumulative counts -> proportions)."""
    counts = [cumulative[bound] for bound in sorted(cumulative)]
    per_bucket = [count - previous for count, previous in zip(counts, [0.0, *counts[:-1]])]
    total = sum(per_bucket)
    return [count / total for count in per_bucket] if total > 0 else [0.0] * len(per_bucket)


def prediction_psi(champion: RoleFigures, challenger: RoleFigures, bins: int = 10) -> float:
    """PSI of the challenger's prediction histogram against the champion's.

    The service's fine buckets are merged into about `bins` bins of equal champion mass (PSI's
    usual deciles of the reference): with few rows per bucket the index would mostly measure
    sampling noise, about (bins - 1) / rows.
    """
    bounds = sorted(set(champion.prediction_buckets) | set(challenger.prediction_buckets))
    base = _cumulative_on(champion.prediction_buckets, bounds)
    new = _cumulative_on(challenger.prediction_buckets, bounds)
    kept = _equal_mass_bounds(base, bins)
    return psi(bucket_shares({b: base[b] for b in kept}), bucket_shares({b: new[b] for b in kept}))


def _equal_mass_bounds(cumulative: Mapping[float, float], bins: int) -> list[float]:
    bounds = sorted(cumulative)
    total = cumulative[bounds[-1]] if bounds else 0.0
    if total <= 0:
        return bounds
    kept: list[float] = []
    last, target = 0.0, total / bins
    for bound in bounds[:-1]:
        if cumulative[bound] - last >= target:
            kept.append(bound)
            last = cumulative[bound]
    if kept and total - last < target:
        kept.pop()  # fold a thin last bin into its neighbour
    return [*kept, bounds[-1]]


def _cumulative_on(buckets: Mapping[float, float], bounds: list[float]) -> dict[float, float]:
    out, last = {}, 0.0
    for bound in bounds:
        last = buckets.get(bound, last)
        out[bound] = last
    return out
