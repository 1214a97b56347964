"""params.yaml is typed once: every mistake is a ParamsError naming the key and the problem."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlship.config import Params, load_params, parse_params
from mlship.errors import ParamsError
from mlship.model.pipeline import make_estimator

REPO = Path(__file__).resolve().parents[2]


def minimal(**sections: dict[str, Any]) -> dict[str, Any]:
    """The smallest valid params mapping, with sections merged over it."""
    raw: dict[str, Any] = {
        "data": {
            "path": "data.csv",
            "task": "binary",
            "target": "y",
            "id_column": "id",
            "numeric": ["a", "b"],
            "categorical": ["c"],
        }
    }
    for name, values in sections.items():
        raw[name] = {**raw.get(name, {}), **values}
    return raw


def error_of(raw: object) -> str:
    with pytest.raises(ParamsError) as caught:
        parse_params(raw)
    return str(caught.value)


def test_repo_params_file_is_valid() -> None:
    params = load_params(REPO / "params.yaml")
    assert params.data.target == "churned"
    assert params.data.features[: len(params.data.numeric)] == list(params.data.numeric)


def test_minimal_params_fill_every_other_section_with_defaults() -> None:
    params = parse_params(minimal())
    assert isinstance(params, Params)
    assert params.split.test_size == 0.2
    assert params.train.model == "hist_gradient_boosting"
    assert params.data.features == ["a", "b", "c"]
    assert params.data.is_classification


def test_misspelled_key_is_named_in_the_error() -> None:
    message = error_of(minimal(train={"modle": "linear"}))
    assert "unknown key 'train.modle'" in message


def test_misspelled_section_is_named_in_the_error() -> None:
    raw = minimal()
    raw["trian"] = {"model": "linear"}
    assert "unknown key 'trian'" in error_of(raw)


def test_every_bad_key_is_listed_at_once() -> None:
    message = error_of(minimal(train={"modle": "linear"}, split={"test_sise": 0.3}))
    assert "train.modle" in message
    assert "split.test_sise" in message


def test_wrong_type_names_key_and_value() -> None:
    message = error_of(minimal(generate={"rows": "many"}))
    assert "'generate.rows'" in message
    assert "'many'" in message


def test_impossible_test_size_is_refused() -> None:
    message = error_of(minimal(split={"test_size": 1.5}))
    assert "'split.test_size'" in message
    assert "1.5" in message


def test_unknown_model_kind_lists_the_choices() -> None:
    message = error_of(minimal(train={"model": "xgboost"}))
    assert "'train.model'" in message
    assert "random_forest" in message


def test_unknown_task_is_refused() -> None:
    message = error_of(minimal(data={"task": "ranking"}))
    assert "'data.task'" in message


def test_missing_data_section_is_named() -> None:
    assert "missing key 'data'" in error_of({"train": {"model": "linear"}})


def test_missing_target_is_named() -> None:
    raw = minimal()
    del raw["data"]["target"]
    assert "missing key 'data.target'" in error_of(raw)


def test_params_that_are_not_a_mapping_are_refused() -> None:
    assert "expected a mapping" in error_of(["data"])


def test_duplicated_feature_is_named() -> None:
    message = error_of(minimal(data={"numeric": ["a", "b"], "categorical": ["a"]}))
    assert "listed twice" in message
    assert "'a'" in message


def test_target_used_as_feature_is_refused() -> None:
    message = error_of(minimal(data={"numeric": ["a", "y"]}))
    assert "target or id column used as a feature" in message
    assert "'y'" in message


def test_id_column_used_as_feature_is_refused() -> None:
    message = error_of(minimal(data={"categorical": ["id"]}))
    assert "'id'" in message


def test_no_features_is_refused() -> None:
    assert "at least one feature" in error_of(minimal(data={"numeric": [], "categorical": []}))


def test_positive_label_outside_binary_is_refused() -> None:
    message = error_of(minimal(data={"task": "multiclass", "positive_label": "yes"}))
    assert "positive_label" in message


def test_hyperparam_the_estimator_does_not_accept_is_named() -> None:
    params = parse_params(minimal(train={"model": "random_forest", "hyperparams": {"depth": 3}}))
    with pytest.raises(ParamsError) as caught:
        make_estimator(params.train, classification=True)
    message = str(caught.value)
    assert "'train.hyperparams.depth'" in message
    assert "RandomForestClassifier" in message
    assert "max_depth" in message  # the known names are listed, so the fix is obvious


def test_hyperparam_with_invalid_value_fails_before_training() -> None:
    params = parse_params(
        minimal(train={"model": "hist_gradient_boosting", "hyperparams": {"learning_rate": "x"}})
    )
    with pytest.raises(ParamsError) as caught:
        make_estimator(params.train, classification=False)
    assert "learning_rate" in str(caught.value)


def test_valid_hyperparams_reach_the_estimator_with_the_seed() -> None:
    params = parse_params(
        minimal(train={"model": "random_forest", "seed": 7, "hyperparams": {"max_depth": 3}})
    )
    estimator = make_estimator(params.train, classification=False)
    assert estimator.get_params()["max_depth"] == 3
    assert estimator.get_params()["random_state"] == 7


def test_params_are_immutable() -> None:
    params = parse_params(minimal())
    with pytest.raises(ValueError):
        params.split.seed = 1  # type: ignore[misc]


def test_load_params_names_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ParamsError, match="cannot read params file"):
        load_params(tmp_path / "params.yaml")


def test_load_params_names_invalid_yaml(tmp_path: Path) -> None:
    path = tmp_path / "params.yaml"
    path.write_text("data: [unclosed\n", encoding="utf-8")
    with pytest.raises(ParamsError, match="not valid YAML"):
        load_params(path)


def test_load_params_reports_the_file_it_read(tmp_path: Path) -> None:
    path = tmp_path / "custom.yaml"
    path.write_text(yaml.safe_dump(minimal(train={"modle": "linear"})), encoding="utf-8")
    with pytest.raises(ParamsError) as caught:
        load_params(path)
    assert str(caught.value).startswith(f"{path}: unknown key 'train.modle'")


def test_loading_params_does_not_import_scipy_or_sklearn() -> None:
    # Every CLI loads params first; the drift stack costs seconds and most commands never use it.
    code = "import sys, mlship.config; print(sorted({'scipy', 'sklearn'} & set(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    assert out.strip() == "[]"


def test_a_gate_metric_the_task_lacks_is_an_error_naming_the_valid_choices() -> None:
    raw = minimal(data={"task": "regression"}, gate={"metrics": {"roc_auc": {}}})
    message = error_of(raw)
    assert "'gate.metrics.roc_auc'" in message and "task 'regression'" in message
    assert "valid choices: rmse, mae, r2" in message


def test_a_key_metric_the_task_lacks_is_an_error() -> None:
    raw = minimal(data={"task": "multiclass"}, registry={"key_metrics": ["pr_auc"]})
    assert "'registry.key_metrics: pr_auc'" in error_of(raw)


COST = {"kind": "cost_matrix", "false_positive": 1, "false_negative": 10}


def test_a_binary_kpi_on_a_regression_task_is_an_error_naming_the_key() -> None:
    raw = minimal(data={"task": "regression"}, kpi={"churn_cost": COST})
    message = error_of(raw)
    assert "'kpi.churn_cost': kind 'cost_matrix' applies only to task binary" in message
    assert "not to task 'regression'" in message


def test_a_kpi_with_an_unknown_key_or_kind_is_named() -> None:
    assert "unknown key 'kpi.cost.cost_matrix.false_postive'" in error_of(
        minimal(kpi={"cost": {**COST, "false_postive": 2}})
    )
    assert "'kpi.cost'" in error_of(minimal(kpi={"cost": {"kind": "profit"}}))


def test_kpis_and_monitor_settings_parse_with_their_directions() -> None:
    raw = minimal(
        kpi={"cost": {**COST, "alert_threshold": 3}},
        monitor={"performance_margin": 0.1, "min_labelled_rows": 50, "metrics": ["roc_auc"]},
    )
    params = parse_params(raw)
    assert params.kpi["cost"].direction == "lower_is_better"
    assert params.kpi["cost"].alert_threshold == 3
    assert params.monitor.performance_margin == 0.1 and params.monitor.metrics == ("roc_auc",)


def test_a_live_metric_the_task_lacks_is_an_error() -> None:
    message = error_of(minimal(data={"task": "regression"}, monitor={"metrics": ["roc_auc"]}))
    assert "'monitor.metrics: roc_auc'" in message and "valid choices: mae, rmse" in message
    message = error_of(minimal(rollout={"performance_metric": "r2"}))
    assert "'rollout.performance_metric'" in message


def test_delay_buckets_must_increase() -> None:
    assert "delay_buckets_hours" in error_of(minimal(monitor={"delay_buckets_hours": [24, 1]}))


def test_live_metrics_are_metrics_the_bootstrap_resamples() -> None:
    from mlship.config import LIVE_METRICS  # pylint: disable=import-outside-toplevel
    from mlship.model.bootstrap import WEIGHTED  # pylint: disable=import-outside-toplevel

    for task, names in LIVE_METRICS.items():
        assert set(names) <= set(WEIGHTED[task])


def test_metric_names_match_what_evaluation_and_the_gate_compute() -> None:
    import numpy as np  # pylint: disable=import-outside-toplevel

    from mlship.config import TASK_METRICS  # pylint: disable=import-outside-toplevel
    from mlship.model.bootstrap import WEIGHTED  # pylint: disable=import-outside-toplevel
    from mlship.model.metrics import compute_metrics  # pylint: disable=import-outside-toplevel

    y = np.array([0, 1, 0, 1])
    scores = {"binary": np.array([0.2, 0.8, 0.4, 0.6]), "regression": y + 0.1}
    scores["multiclass"] = np.array([[0.7, 0.3], [0.2, 0.8], [0.6, 0.4], [0.1, 0.9]])
    for task, names in TASK_METRICS.items():
        assert set(WEIGHTED[task]) == set(names)
        assert set(compute_metrics(task, y, scores[task])) == set(names)


def _project(tmp_path: Path, params: dict[str, Any], pipeline: str) -> Path:
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
    (tmp_path / "dvc.yaml").write_text(pipeline, encoding="utf-8")
    return tmp_path / "params.yaml"


def test_null_schema_file_with_its_dvc_dep_is_an_error_saying_which_line(tmp_path: Path) -> None:
    pipeline = "stages:\n  validate:\n    cmd: x\n    deps:\n      - ${validate.schema_file}\n"
    path = _project(tmp_path, minimal(validate={"schema_file": None}), pipeline)
    with pytest.raises(ParamsError, match=r"delete that line"):
        load_params(path)
    (tmp_path / "dvc.yaml").write_text(pipeline.replace("${validate.schema_file}", "x.csv"))
    assert load_params(path).validate_.schema_file is None


def test_a_declared_plot_the_task_does_not_draw_is_an_error(tmp_path: Path) -> None:
    pipeline = "plots:\n  - ROC:\n      x: fpr\n      y:\n        plots/roc.csv: tpr\n"
    raw = minimal(data={"task": "multiclass"}, gate={"metrics": {"accuracy": {}}})
    with pytest.raises(ParamsError, match=r"plot 'ROC' reads plots/roc.csv.*plots/confusion.csv"):
        load_params(_project(tmp_path, raw, pipeline))
