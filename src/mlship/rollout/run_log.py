"""The MLflow record of a rollout: one run per rollout, one MLflow step per canary step."""

from __future__ import annotations

import math

from mlship.config import Params
from mlship.rollout.policy import Decision, StepReport
from mlship.tracking import use_experiment


class RolloutRun:
    """One MLflow run per rollout in the `rollout.experiment` experiment."""

    def __init__(self, params: Params, model: str, champion: str, challenger: str) -> None:
        self.params = params
        self.tags = {"mlship.model": model, "mlship.kind": "rollout"}
        self.logged = {
            "model": model,
            "champion_version": champion,
            "challenger_version": challenger,
            **{k: str(v) for k, v in params.rollout.model_dump().items()},
        }
        self.run_id: str | None = None

    def __enter__(self) -> RolloutRun:
        # pylint: disable=import-outside-toplevel  # MLflow is slow to import
        import mlflow

        experiment = use_experiment(self.params.rollout.experiment, self.params.paths.mlflow_dir)
        run = mlflow.start_run(experiment_id=experiment, run_name="rollout")
        self.run_id = run.info.run_id
        mlflow.set_tags(self.tags)
        mlflow.log_params(self.logged)
        return self

    def step(self, report: StepReport) -> None:
        """Log one step's figures at MLflow step = the step number."""
        import mlflow  # pylint: disable=import-outside-toplevel

        values = {k: v for k, v in report.metrics().items() if math.isfinite(v)}
        mlflow.log_metrics(values, step=report.step)

    def unloadable(self) -> None:
        """Log a breach before any step: the challenger could not be loaded."""
        import mlflow  # pylint: disable=import-outside-toplevel

        mlflow.log_metrics({"breached": 1.0, "challenger_loaded": 0.0}, step=0)

    def finish(self, decision: Decision, reason: str) -> None:
        """Record the decision."""
        import mlflow  # pylint: disable=import-outside-toplevel

        mlflow.set_tags({"mlship.decision": decision, "mlship.reason": reason[:5000]})

    def __exit__(self, *exc: object) -> None:
        import mlflow  # pylint: disable=import-outside-toplevel

        mlflow.end_run("FINISHED" if exc[0] is None else "FAILED")
