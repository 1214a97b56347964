"""Behavioural tests of the trained model: invariance, direction, minimum functionality.

The example data has known relations (see mlship.data.generate), so the model must follow them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from mlship.config import DataParams, TrainParams
from mlship.data.generate import CATEGORICAL, NUMERIC, TARGET, generate_churn
from mlship.data.io import model_frame
from mlship.model.scoring import Labels, predict_scores

DATA = DataParams(
    path=Path("data/churn.csv"),
    task="binary",
    target=TARGET,
    positive_label=1,
    numeric=NUMERIC,
    categorical=CATEGORICAL,
)


@pytest.fixture(scope="module")
def model() -> Pipeline:
    train = generate_churn(5000, seed=101)
    pipeline = make_model()
    with threadpool_limits(limits=1):
        return pipeline.fit(model_frame(train, DATA), train[TARGET])


def make_model() -> Pipeline:
    # pylint: disable=import-outside-toplevel
    from mlship.model.pipeline import make_pipeline

    return make_pipeline(DATA, TrainParams(model="hist_gradient_boosting", seed=0))


@pytest.fixture(scope="module")
def holdout() -> pd.DataFrame:
    return generate_churn(2000, seed=202)


def churn_probability(model: Pipeline, frame: pd.DataFrame) -> np.ndarray:
    labels = Labels.from_model(model, DATA)
    with threadpool_limits(limits=1):
        return predict_scores(model, model_frame(frame, DATA), labels, "binary")


def test_auc_on_held_out_data_is_above_the_floor(model: Pipeline, holdout: pd.DataFrame) -> None:
    auc = roc_auc_score(holdout[TARGET], churn_probability(model, holdout))
    assert auc > 0.8


def test_obvious_churner_scores_above_obvious_loyal_customer(model: Pipeline) -> None:
    customers = pd.DataFrame(
        {
            "tenure_months": [1, 70],
            "monthly_charges": [125.0, 25.0],
            "total_charges": [125.0, 1750.0],
            "support_tickets": [8, 0],
            "avg_session_minutes": [3.0, 60.0],
            "age": [30, 55],
            "num_products": [1, 5],
            "days_since_last_login": [90, 1],
            "contract": ["month-to-month", "two_year"],
            "payment_method": ["electronic_check", "bank_transfer"],
            "region": ["north", "north"],
            "internet_service": ["fiber", "dsl"],
            "has_partner": ["no", "yes"],
        }
    )
    churner, loyal = churn_probability(model, customers)
    assert churner > 0.7
    assert loyal < 0.1


def test_changing_region_barely_changes_the_score(model: Pipeline, holdout: pd.DataFrame) -> None:
    before = churn_probability(model, holdout)
    rotate = {"north": "south", "south": "east", "east": "west", "west": "north"}
    after = churn_probability(model, holdout.assign(region=holdout["region"].map(rotate)))
    # Trees fit some noise on any column, so single scores move a little; on average, nothing.
    assert np.mean(np.abs(after - before)) < 0.04
    assert abs(np.mean(after - before)) < 0.01


@pytest.mark.parametrize(
    ("column", "change", "direction"),
    [
        ("support_tickets", 3, +1),
        ("monthly_charges", 30.0, +1),
        ("tenure_months", 24, -1),
        ("num_products", 2, -1),
    ],
)
def test_feature_moves_churn_probability_in_the_known_direction(
    model: Pipeline, holdout: pd.DataFrame, column: str, change: float, direction: int
) -> None:
    before = churn_probability(model, holdout)
    changed = holdout.assign(**{column: holdout[column] + change})
    delta = (churn_probability(model, changed) - before) * direction
    assert delta.mean() > 0.02
    assert (delta >= 0).mean() > 0.8  # most customers move the expected way


def test_month_to_month_contract_raises_churn_probability(
    model: Pipeline, holdout: pd.DataFrame
) -> None:
    two_year = churn_probability(model, holdout.assign(contract="two_year"))
    monthly = churn_probability(model, holdout.assign(contract="month-to-month"))
    assert (monthly - two_year).mean() > 0.05
    assert (monthly >= two_year).mean() > 0.8
