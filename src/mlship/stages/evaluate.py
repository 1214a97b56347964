"""Stage `evaluate`: metrics, plots and per-row predictions on the held-out rows; MLflow run."""

from __future__ import annotations

import json
import sys
import warnings
from collections.abc import Sequence
from typing import Any

import pandas as pd
from sklearn.inspection import permutation_importance

from threadpoolctl import threadpool_limits

from mlship.config import Params
from mlship.data.io import read_table, require_columns
from mlship.data.io import write_table
from mlship.entry import run_stage
from mlship.errors import DataError, ModelError
from mlship.files import StagedOutputs, write_json
from mlship.model.artifact import load_metadata, load_model
from mlship.model.metrics import compute_metrics
from mlship.model.plots import evaluation_plots, importance_plot
from mlship.model.scoring import Labels, encode_target, predict_scores, predictions_frame, rows_hash
from mlship.tracking import check_tracking, log_run

_SCORING = {"binary": "roc_auc", "multiclass": "accuracy", "regression": "r2"}


def importance(pipeline: Any, test: pd.DataFrame, params: Params) -> pd.DataFrame:
    """Permutation importance of each input column on a seeded sample of held-out rows."""
    settings = params.evaluate
    sample = test.sample(n=min(settings.importance_rows, len(test)), random_state=settings.seed)
    target = sample[params.data.target]
    if params.data.task == "binary":
        labels = Labels.from_model(pipeline, params.data)
        target = pd.Series(encode_target(target, labels, "binary"))
        scorer: Any = lambda model, x, y: _auc(model, x, y, labels)  # noqa: E731
    else:
        scorer = _SCORING[params.data.task]
    with warnings.catch_warnings():
        # Shuffled rows may hold categories seen rarely; the encoder's notice is expected here.
        warnings.simplefilter("ignore", UserWarning)
        result = permutation_importance(
            pipeline,
            sample[params.data.features],
            target,
            scoring=scorer,
            n_repeats=settings.importance_repeats,
            random_state=settings.seed,
        )
    frame = pd.DataFrame({"feature": params.data.features, "importance": result.importances_mean})
    return frame.sort_values(["importance", "feature"], ascending=[False, True], ignore_index=True)


def _auc(pipeline: Any, features: pd.DataFrame, y_true: pd.Series, labels: Labels) -> float:
    from sklearn.metrics import roc_auc_score  # pylint: disable=import-outside-toplevel

    return float(roc_auc_score(y_true, predict_scores(pipeline, features, labels, "binary")))


def run(params: Params) -> dict[str, float]:
    """Score the held-out rows; write metrics, predictions, plots; log the MLflow run."""
    if params.tracking.enabled:
        check_tracking(params)  # an unreachable server fails in seconds, not after the work
    with threadpool_limits(limits=params.train.threads):
        return _evaluate(params)


def _evaluate(params: Params) -> dict[str, float]:
    data, paths = params.data, params.paths
    meta = load_metadata(paths.model_dir / "model.json")
    trained_for = (meta.get("task"), meta.get("numeric"), meta.get("categorical"))
    if trained_for != (data.task, list(data.numeric), list(data.categorical)):
        raise ModelError(
            f"{paths.model_dir}: the model was trained for another task or other features "
            "than params.yaml names; run `mlship train` again"
        )
    pipeline = load_model(paths.model_dir / "model.skops", meta.get("trusted_types", []))
    test = read_table(paths.split_dir / "test.parquet")
    require_columns(test, ["__id__", *data.features, data.target], paths.split_dir / "test.parquet")
    labels = Labels.from_model(pipeline, data)
    y_true = encode_target(test[data.target], labels, data.task)
    if data.task == "binary" and len(set(y_true.tolist())) < 2:
        advice = (
            "raise split.test_size or add rows of the missing class"
            if params.split.stratify
            else "set split.stratify: true, raise split.test_size or add data"
        )
        raise DataError(
            f"{paths.split_dir / 'test.parquet'}: the held-out rows hold a single class, so "
            f"ROC AUC is undefined; {advice}"
        )
    scores = predict_scores(pipeline, test[data.features], labels, data.task)
    metrics = compute_metrics(data.task, y_true, scores, params.evaluate.threshold)

    # Outputs are staged and published only once the MLflow run is logged: a stage that fails
    # to log leaves the previous metrics, predictions and plots as they were.
    with StagedOutputs() as staged:
        eval_dir, plots_dir = staged.directory(paths.eval_dir), staged.directory(paths.plots_dir)
        write_table(
            predictions_frame(test["__id__"], y_true, scores, data.task),
            eval_dir / "predictions.csv",
        )
        write_json(
            eval_dir / "holdout.json",
            {
                "rows": len(test),
                "rows_hash": rows_hash(test, ["__id__", data.target]),
                "task": data.task,
            },
        )
        evaluation_plots(
            plots_dir,
            data.task,
            y_true,
            scores,
            [str(c) for c in labels.classes],
            params.evaluate.threshold,
        )
        importance_plot(plots_dir, importance(pipeline, test, params))
        print(json.dumps(metrics, indent=2, sort_keys=True))
        if params.tracking.enabled:
            run_id = log_run(
                params,
                metrics,
                paths.model_dir / "model.skops",
                meta,
                test[data.features].head(5),
                plots_dir,
            )
            print(f"MLflow run {run_id}")
        staged.publish()
    write_json(paths.metrics, {key: round(value, 6) for key, value in metrics.items()})
    return metrics


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    return run_stage("evaluate", "Evaluate the trained model on the held-out rows.", run, argv)


if __name__ == "__main__":
    sys.exit(main())
