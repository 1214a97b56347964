"""A seeded generator of customer-churn data with known signal and drift knobs.

The relations are fixed so behavioural tests can check their direction: churn rises with
monthly charges, support tickets, days since last login, a month-to-month contract and
electronic-check payment; it falls with tenure, number of products and session time.
Region carries no signal.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

CONTRACTS = ("month-to-month", "one_year", "two_year")
PAYMENTS = ("electronic_check", "credit_card", "bank_transfer", "mailed_check")
REGIONS = ("north", "south", "east", "west")
INTERNET = ("fiber", "dsl", "none")

NUMERIC = (
    "tenure_months",
    "monthly_charges",
    "total_charges",
    "support_tickets",
    "avg_session_minutes",
    "age",
    "num_products",
    "days_since_last_login",
)
CATEGORICAL = ("contract", "payment_method", "region", "internet_service", "has_partner")
TARGET = "churned"
ID_COLUMN = "customer_id"
PERIOD_COLUMN = "month"

# Logit contributions; the intercept sets the base churn rate near 20 %.
_INTERCEPT = -1.9
_CONTRACT_EFFECT = {"month-to-month": 1.1, "one_year": -0.3, "two_year": -1.3}
_PAYMENT_EFFECT = {
    "electronic_check": 0.6,
    "credit_card": -0.2,
    "bank_transfer": -0.2,
    "mailed_check": 0.0,
}


@dataclass(frozen=True)
class Drift:
    """Knobs that make a batch differ from the reference distribution.

    Attributes:
        shift: per numeric column, a shift in units of that column's spread.
        new_category: per categorical column, (new value, share of rows that take it).
        charges_effect: multiplier of monthly charges' effect on churn (concept drift).
        extra_missing: per column, extra share of values set missing.
    """

    shift: dict[str, float] = field(default_factory=dict)
    new_category: dict[str, tuple[str, float]] = field(default_factory=dict)
    charges_effect: float = 1.0
    extra_missing: dict[str, float] = field(default_factory=dict)


_SPREAD = {
    "tenure_months": 20.0,
    "monthly_charges": 25.0,
    "total_charges": 2000.0,
    "support_tickets": 1.5,
    "avg_session_minutes": 12.0,
    "age": 14.0,
    "num_products": 1.2,
    "days_since_last_login": 15.0,
}


def _months(start: str, count: int, rows: int, rng: np.random.Generator) -> np.ndarray:
    first = pd.Period(start, freq="M")
    labels = np.array([str(first + offset) for offset in range(count)])
    return np.sort(labels[rng.integers(0, count, rows)])


def _pick(
    rng: np.random.Generator, values: tuple[str, ...], probs: list[float], rows: int
) -> np.ndarray:
    return np.asarray(values, dtype=object)[rng.choice(len(values), size=rows, p=probs)]


def generate_churn(
    rows: int,
    seed: int,
    start_month: str = "2026-01",
    months: int = 6,
    drift: Drift | None = None,
    id_offset: int = 0,
) -> pd.DataFrame:
    """Make `rows` customers; the same arguments always give the same frame."""
    drift = drift or Drift()
    rng = np.random.default_rng(seed)
    tenure = np.clip(rng.gamma(1.6, 18.0, rows), 0, 72).round()
    monthly = np.clip(rng.normal(70.0, 25.0, rows), 18.0, 130.0)
    tickets = rng.poisson(1.2, rows).astype(float)
    session = np.clip(rng.normal(35.0, 12.0, rows), 0.5, None)
    age = np.clip(rng.normal(45.0, 14.0, rows), 18, 90).round()
    products = np.clip(rng.poisson(1.3, rows) + 1, 1, 6).astype(float)
    last_login = np.clip(rng.exponential(12.0, rows), 0, 365).round()
    numeric = {
        "tenure_months": tenure,
        "monthly_charges": monthly,
        "support_tickets": tickets,
        "avg_session_minutes": session,
        "age": age,
        "num_products": products,
        "days_since_last_login": last_login,
    }
    for column, amount in drift.shift.items():
        if column not in _SPREAD or column == "total_charges":
            raise ValueError(f"drift shift: unknown numeric column {column!r}")
        numeric[column] = np.clip(numeric[column] + amount * _SPREAD[column], 0, None)
    tenure, monthly = numeric["tenure_months"], numeric["monthly_charges"]
    total = tenure * monthly * rng.normal(1.0, 0.05, rows)

    contract = _pick(rng, CONTRACTS, [0.55, 0.25, 0.20], rows)
    payment = _pick(rng, PAYMENTS, [0.34, 0.22, 0.22, 0.22], rows)
    region = _pick(rng, REGIONS, [0.25, 0.25, 0.25, 0.25], rows)
    internet = _pick(rng, INTERNET, [0.45, 0.35, 0.20], rows)
    partner = _pick(rng, ("yes", "no"), [0.48, 0.52], rows)

    logit = (
        _INTERCEPT
        - 0.035 * (numeric["tenure_months"] - 24)
        + 0.025 * drift.charges_effect * (numeric["monthly_charges"] - 70)
        + 0.35 * (numeric["support_tickets"] - 1.2)
        - 0.03 * (numeric["avg_session_minutes"] - 35)
        - 0.30 * (numeric["num_products"] - 2)
        + 0.04 * (numeric["days_since_last_login"] - 12)
        + np.vectorize(_CONTRACT_EFFECT.__getitem__, otypes=[float])(contract)
        + np.vectorize(_PAYMENT_EFFECT.__getitem__, otypes=[float])(payment)
        + np.where(internet == "fiber", 0.3, 0.0)
        + np.where(partner == "yes", -0.2, 0.0)
    )
    churned = (rng.random(rows) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int64)

    frame = pd.DataFrame(
        {
            ID_COLUMN: [f"C{i:08d}" for i in range(id_offset, id_offset + rows)],
            PERIOD_COLUMN: _months(start_month, months, rows, rng),
            "tenure_months": numeric["tenure_months"].astype(np.int64),
            "monthly_charges": numeric["monthly_charges"].round(2),
            "total_charges": total.round(2),
            "support_tickets": numeric["support_tickets"].astype(np.int64),
            "avg_session_minutes": numeric["avg_session_minutes"].round(1),
            "age": numeric["age"].astype(np.int64),
            "num_products": numeric["num_products"].astype(np.int64),
            "days_since_last_login": numeric["days_since_last_login"].astype(np.int64),
            "contract": contract,
            "payment_method": payment,
            "region": region,
            "internet_service": internet,
            "has_partner": partner,
            TARGET: churned,
        }
    )
    # New customers have no billing history yet; some usage and service records are lost.
    frame["total_charges"] = frame["total_charges"].where(frame["tenure_months"] > 0)
    missing = {"avg_session_minutes": 0.05, "internet_service": 0.03}
    for column, share in drift.extra_missing.items():
        missing[column] = missing.get(column, 0.0) + share
    for column, share in missing.items():
        frame[column] = frame[column].mask(rng.random(rows) < share)
    for column, (value, share) in drift.new_category.items():
        frame[column] = frame[column].mask(rng.random(rows) < share, value)
    return frame
