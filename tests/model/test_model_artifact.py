"""The pipeline params describe, saved as byte-stable skops and loaded only with trusted types."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from mlship.config import DataParams, TrainParams
from mlship.data.generate import generate_churn
from mlship.data.io import model_frame
from mlship.errors import ModelError
from mlship.model.artifact import load_metadata, load_model, save_model
from mlship.model.pipeline import make_pipeline

DATA = DataParams(
    path=Path("d.csv"),
    task="binary",
    target="churned",
    numeric=("tenure_months", "monthly_charges", "avg_session_minutes"),
    categorical=("contract", "region", "internet_service"),
)


class Constant(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """A user-defined estimator: not scikit-learn's, so not trusted."""

    def fit(self, x: object, y: np.ndarray) -> Constant:
        self.classes_ = np.unique(y)
        return self


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return generate_churn(600, seed=2)


# Small models: these tests are about saving and predicting, not about model quality.
SMALL = {
    "linear": {},
    "random_forest": {"n_estimators": 20},
    "hist_gradient_boosting": {"max_iter": 20},
}


def fitted(frame: pd.DataFrame, model: str, seed: int = 0) -> Pipeline:
    train = TrainParams(model=model, seed=seed, hyperparams=SMALL[model])  # type: ignore[arg-type]
    with threadpool_limits(limits=1):  # the machine is shared; OpenMP would oversubscribe it
        return make_pipeline(DATA, train).fit(model_frame(frame, DATA), frame["churned"])


@pytest.mark.parametrize("model", ["linear", "random_forest", "hist_gradient_boosting"])
def test_same_model_saved_twice_gives_identical_bytes(
    frame: pd.DataFrame, model: str, tmp_path: Path
) -> None:
    save_model(fitted(frame, model), tmp_path / "a.skops")
    save_model(fitted(frame, model), tmp_path / "b.skops")
    assert (tmp_path / "a.skops").read_bytes() == (tmp_path / "b.skops").read_bytes()


def test_different_seeds_give_different_bytes(frame: pd.DataFrame, tmp_path: Path) -> None:
    save_model(fitted(frame, "random_forest", seed=1), tmp_path / "a.skops")
    save_model(fitted(frame, "random_forest", seed=2), tmp_path / "b.skops")
    assert (tmp_path / "a.skops").read_bytes() != (tmp_path / "b.skops").read_bytes()


def test_loaded_model_predicts_exactly_as_the_saved_one(
    frame: pd.DataFrame, tmp_path: Path
) -> None:
    pipeline = fitted(frame, "hist_gradient_boosting")
    trusted = save_model(pipeline, tmp_path / "model.skops")
    assert any("hist_gradient_boosting" in name for name in trusted)
    loaded = load_model(tmp_path / "model.skops", trusted)
    features = model_frame(frame, DATA)
    np.testing.assert_array_equal(loaded.predict_proba(features), pipeline.predict_proba(features))


def test_load_reads_trusted_types_from_model_json(frame: pd.DataFrame, tmp_path: Path) -> None:
    trusted = save_model(fitted(frame, "hist_gradient_boosting"), tmp_path / "model.skops")
    (tmp_path / "model.json").write_text(json.dumps({"trusted_types": trusted}))
    assert isinstance(load_model(tmp_path / "model.skops"), Pipeline)


def test_load_with_too_few_trusted_types_fails_clearly(frame: pd.DataFrame, tmp_path: Path) -> None:
    save_model(fitted(frame, "hist_gradient_boosting"), tmp_path / "model.skops")
    with pytest.raises(ModelError) as caught:
        load_model(tmp_path / "model.skops", trusted=[])
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'model.skops'}: cannot load model")
    assert "HistGradientBoosting" in message


def test_model_json_cannot_widen_what_skops_trusts(frame: pd.DataFrame, tmp_path: Path) -> None:
    trusted = save_model(fitted(frame, "hist_gradient_boosting"), tmp_path / "model.skops")
    widened = [*trusted, "builtins.eval", "os.system"]
    (tmp_path / "model.json").write_text(json.dumps({"trusted_types": widened}))
    with pytest.raises(ModelError, match=r"refusing to trust .*'builtins.eval', 'os.system'"):
        load_model(tmp_path / "model.skops")


def test_load_without_metadata_names_the_missing_file(frame: pd.DataFrame, tmp_path: Path) -> None:
    save_model(fitted(frame, "linear"), tmp_path / "model.skops")
    with pytest.raises(ModelError, match="model.json: cannot read model metadata"):
        load_model(tmp_path / "model.skops")


def test_load_of_a_missing_or_corrupt_file_fails_clearly(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="cannot read model"):
        load_model(tmp_path / "absent.skops", trusted=[])
    (tmp_path / "bad.skops").write_bytes(b"not a zip")
    with pytest.raises(ModelError, match="bad.skops: cannot load model"):
        load_model(tmp_path / "bad.skops", trusted=[])


def test_user_defined_estimator_is_refused_and_nothing_written(
    frame: pd.DataFrame, tmp_path: Path
) -> None:
    pipeline = Pipeline([("model", Constant())]).fit(frame[["age"]], frame["churned"])
    with pytest.raises(ModelError, match="outside scikit-learn and numpy.*Constant"):
        save_model(pipeline, tmp_path / "model.skops")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("model", ["linear", "random_forest", "hist_gradient_boosting"])
def test_unseen_category_still_gets_a_prediction_without_warning(
    frame: pd.DataFrame, model: str
) -> None:
    pipeline = fitted(frame, model)
    rows = model_frame(frame.head(3), DATA)
    rows["region"] = "mars"
    rows["contract"] = "lifetime"
    rows["internet_service"] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        proba = pipeline.predict_proba(rows)
    assert proba.shape == (3, 2)
    assert np.isfinite(proba).all()


def test_missing_numeric_values_are_imputed_at_predict_time(frame: pd.DataFrame) -> None:
    pipeline = fitted(frame, "linear")
    rows = model_frame(frame.head(2), DATA)
    rows["monthly_charges"] = np.nan
    assert np.isfinite(pipeline.predict_proba(rows)).all()


def test_pipeline_has_preprocessing_then_the_configured_estimator() -> None:
    pipeline = make_pipeline(DATA, TrainParams(model="random_forest", seed=3))
    assert [name for name, _ in pipeline.steps] == ["preprocess", "model"]
    assert type(pipeline.named_steps["model"]).__name__ == "RandomForestClassifier"
    assert pipeline.named_steps["model"].random_state == 3
    regression = DATA.model_copy(update={"task": "regression"})
    assert type(make_pipeline(regression, TrainParams(model="linear"))[-1]).__name__ == "Ridge"


def test_metadata_that_is_not_an_object_is_refused(tmp_path: Path) -> None:
    (tmp_path / "model.json").write_text("[1, 2]")
    with pytest.raises(ModelError, match="model metadata is not a JSON object"):
        load_metadata(tmp_path / "model.json")
    (tmp_path / "model.json").write_text("{broken")
    with pytest.raises(ModelError, match="model.json: cannot read model metadata"):
        load_metadata(tmp_path / "model.json")


@pytest.mark.parametrize("model", ["linear", "random_forest", "hist_gradient_boosting"])
def test_feature_with_no_values_at_all_trains_and_predicts_without_warning(
    frame: pd.DataFrame, model: str
) -> None:
    # A contract with max_missing_fraction: 1.0 lets such a column through.
    empty = frame.assign(monthly_charges=np.nan, region=None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pipeline = fitted(empty, model)
        proba = pipeline.predict_proba(model_frame(empty.head(5), DATA))
    assert np.isfinite(proba).all()
