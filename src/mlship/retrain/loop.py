"""One retrain run: validate the batch, check drift, decide, and retrain, gate and register."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import yaml

from mlship.config import Params
from mlship.data.contract import load_schema_file, validate_frame
from mlship.data.io import read_table
from mlship.errors import DataError, GateFailed, SchemaViolation
from mlship.files import write_json, write_text
from mlship.io.github import append_step_summary
from mlship.io.process import dvc
from mlship.monitoring.check import newest_batch, run_check
from mlship.retrain.batches import batch_path, check_month
from mlship.retrain.decision import Decision, decide
from mlship.retrain.report import decision_markdown, rejected_body
from mlship.retrain.workspace import (
    Paths,
    append_batch,
    data_target,
    model_age_days,
    save_decision,
)


def _pick_batch(params: Params, month: str | None) -> tuple[str, Path]:
    if month:
        path = batch_path(params, check_month(month))
        if not path.is_file():
            raise DataError(f"{path}: no batch for {month} (run `mlship ingest --month {month}`)")
        return month, path
    path = newest_batch(params.retrain.batches_dir)
    return path.stem, path


def _validate(params: Params, frame: pd.DataFrame, source: Path, paths: Paths) -> str | None:
    """Validate the batch; return every violation as text, or None when it is valid."""
    schema = load_schema_file(params.validate_.schema_file)
    report = validate_frame(frame, params.data, params.validate_, schema, str(source))
    write_text(paths.validation, report.to_markdown())
    return None if report.valid else report.summary()


def _baseline_from_workspace(params: Params, params_file: Path) -> None:
    """The champion's outputs, as they are before retraining, become the gate's baseline.

    They include the ids it trained on (train_ids.csv): the split reshuffles when rows are
    added, so the gate compares the two models only on held-out rows the champion never saw.
    """
    # pylint: disable=import-outside-toplevel  # the gate pulls in plotting and bootstrap code
    from mlship.gate.baseline import collect_outputs

    out = params.gate.baseline_dir
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    original = params_file.read_text(encoding="utf-8")
    collect_outputs(Path.cwd(), yaml.safe_load(original) or {}, original, out)
    write_json(out / "baseline.json", {"ref": "champion (this checkout before retraining)"})


def _register(params: Params) -> str:
    # pylint: disable=import-outside-toplevel  # MLflow is slow to import
    from mlship.registry.core import connect
    from mlship.tracking import configure

    # MLflow resolves `models:/` sources through its global tracking URI, not the client's.
    configure(params)
    registry = connect(params)
    return registry.register(registry.latest_run_id(params.tracking.experiment))


def retrain(params: Params, params_file: Path, decision: Decision, paths: Paths) -> None:
    """Append the batch, rebuild with DVC, gate against the champion, register the challenger."""
    # pylint: disable=import-outside-toplevel  # the gate pulls in plotting and bootstrap code
    from mlship.gate.compare import run as run_gate

    _baseline_from_workspace(params, params_file)
    rows = append_batch(params, read_table(Path(decision.batch)))
    dvc("add", "--quiet", str(data_target(params)))
    print(f"retrain: dataset now {rows} rows; running dvc repro")
    dvc("repro")
    result = run_gate(params)
    if result.mode != "incomparable":
        decision.notes.append(
            f"gate compared both models on {result.rows} held-out rows the champion never "
            "trained on"
        )
    decision.gate_verdict = result.verdict
    if result.verdict == "fail":
        decision.outcome = "gate-failed"
        save_decision(paths, decision)
        raise GateFailed("; ".join(result.failure_lines()) or "the challenger failed the gate")
    if params.tracking.enabled:
        decision.registered_version = _register(params)
    else:
        decision.notes.append("tracking disabled: challenger not registered")
    if dvc("remote", "list"):
        dvc("push")
    decision.outcome = "retrained"
    save_decision(paths, decision)


def run(
    params: Params, params_file: Path, month: str | None, force: bool, trigger: str | None = None
) -> Decision:
    """Validate, check drift, decide, and retrain when the decision says so.

    `trigger` is the monitor's reason when a repository_dispatch started this run.
    """
    paths = Paths(params)
    if paths.out.exists():
        shutil.rmtree(paths.out)
    paths.out.mkdir(parents=True)
    month, batch = _pick_batch(params, month)
    frame = read_table(batch)
    violations = _validate(params, frame, batch, paths)
    if violations is not None:
        decision = Decision(month, str(batch), "invalid", outcome="rejected")
        decision.notes.append(f"{violations.count(chr(10)) + 1} contract violation(s)")
        save_decision(paths, decision)
        append_step_summary(rejected_body(decision, paths.validation))
        raise SchemaViolation(violations)
    result, _ = run_check(
        params,
        params.paths.split_dir / "train.parquet",
        batch,
        paths.drift,
        params.paths.model_dir,
    )
    age = model_age_days(params)
    decision = decide(
        month, str(batch), result, age, params.retrain.max_model_age_days, force, trigger
    )
    save_decision(paths, decision)
    print(decision.headline())
    if decision.action == "retrain":
        try:
            retrain(params, params_file, decision, paths)
        finally:
            append_step_summary(decision_markdown(decision))
    else:
        append_step_summary(decision_markdown(decision))
    return decision
