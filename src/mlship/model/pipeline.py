"""Build the scikit-learn Pipeline that params describe."""

from __future__ import annotations

from typing import Any

from sklearn.base import BaseEstimator
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from mlship.config import DataParams, TrainParams
from mlship.errors import ParamsError

_ESTIMATORS: dict[tuple[str, bool], tuple[type[BaseEstimator], dict[str, Any]]] = {
    ("linear", True): (LogisticRegression, {"max_iter": 1000}),
    ("linear", False): (Ridge, {}),
    ("random_forest", True): (RandomForestClassifier, {"n_estimators": 200, "n_jobs": -1}),
    ("random_forest", False): (RandomForestRegressor, {"n_estimators": 200, "n_jobs": -1}),
    ("hist_gradient_boosting", True): (HistGradientBoostingClassifier, {}),
    ("hist_gradient_boosting", False): (HistGradientBoostingRegressor, {}),
}


def make_estimator(train: TrainParams, classification: bool) -> BaseEstimator:
    """Instantiate the configured estimator, seeded.

    Raises:
        ParamsError: a hyper-parameter the estimator does not have.
    """
    cls, defaults = _ESTIMATORS[(train.model, classification)]
    known = set(cls().get_params())
    unknown = sorted(set(train.hyperparams) - known)
    if unknown:
        raise ParamsError(
            f"params.yaml: 'train.hyperparams.{unknown[0]}': not a parameter of "
            f"{cls.__name__} (known: {', '.join(sorted(known))})"
        )
    settings = {**defaults, **train.hyperparams}
    if "random_state" in known:
        settings["random_state"] = train.seed
    try:
        estimator = cls(**settings)
        # scikit-learn checks values only in fit(); check now, before any data is read, so a
        # bad value is a params error naming the key rather than a traceback from training.
        estimator._validate_params()  # pylint: disable=protected-access
    except (TypeError, ValueError) as error:
        raise ParamsError(f"params.yaml: 'train.hyperparams': {error}") from None
    return estimator


def make_pipeline(data: DataParams, train: TrainParams) -> Pipeline:
    """Preprocessing (impute, scale, one-hot with unseen categories ignored) plus estimator."""
    # keep_empty_features: a column with no value at all (allowed by a lax contract) stays, as a
    # constant, instead of being dropped with a warning at every fit and every prediction.
    numeric = Pipeline(
        [
            ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
            ("scale", StandardScaler()),
        ]
    )
    categorical = Pipeline(
        [
            (
                "impute",
                SimpleImputer(
                    strategy="constant", fill_value="__missing__", keep_empty_features=True
                ),
            ),
            (
                "onehot",
                OneHotEncoder(
                    handle_unknown="infrequent_if_exist",
                    max_categories=50,
                    sparse_output=False,
                ),
            ),
        ]
    )
    preprocess = ColumnTransformer(
        [
            ("numeric", numeric, list(data.numeric)),
            ("categorical", categorical, list(data.categorical)),
        ],
        verbose_feature_names_out=False,
    )
    return Pipeline(
        [("preprocess", preprocess), ("model", make_estimator(train, data.is_classification))]
    )
