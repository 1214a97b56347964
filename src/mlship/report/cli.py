"""`mlship report`: the markdown the pull-request comment shows, plus the images it references.

Every input is optional: when a step did not run (invalid data, failed training), the report
still renders and says what is missing and why. Output goes to `report.out_dir`; CML is run from
there, so images are referenced relative to it.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from mlship.config import Params
from mlship.data.contract import violations_table
from mlship.data.io import read_table
from mlship.entry import run_main, stage_parser
from mlship.errors import DataError
from mlship.files import read_json_or_none, write_text
from mlship.gate.compare import other_problem
from mlship.gate.policy import POLICY_CHANGE
from mlship.gate.smoke import SMOKE_ERROR
from mlship.model.metrics import HIGHER_IS_BETTER
from mlship.report.datadiff import compare, diff_markdown, profile
from mlship.report.markdown import MARKER, Section, assemble, cell
from mlship.settings import ReportSettings, TrackingSettings, read_settings
from mlship.stages import data
from mlship.tracking import flatten, git_commit

_ICONS = {"fail": "❌", "inconclusive": "⚠️"}
PLOTS = ("roc", "pr", "confusion", "calibration", "residuals", "importance")


def _yaml(path: Path) -> dict[str, Any] | None:
    try:
        value = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None
    return value if isinstance(value, dict) else None


def _num(value: Any, spec: str = ".4f") -> str:
    return "n/a" if not isinstance(value, (int, float)) else format(value, spec)


def _commit() -> str:
    """The PR's head commit: on `pull_request` GitHub checks out a temporary merge commit."""
    settings = read_settings(ReportSettings)
    return settings.pr_head_sha.strip() or settings.github_sha.strip() or git_commit()


class Inputs:
    """Everything the report reads, each None when its step did not produce it."""

    def __init__(self, params: Params) -> None:
        paths = params.paths
        self.params = params
        self.base = params.gate.baseline_dir
        self.gate = read_json_or_none(params.gate.out_dir / "gate.json")
        self.validation = read_json_or_none(paths.validation_dir / "validation.json")
        self.base_validation = read_json_or_none(self.base / "validation.json")
        self.metrics = read_json_or_none(paths.metrics)
        # Main's metrics of another problem (task or target) mean nothing beside this branch's.
        self.base_metrics = (
            None
            if other_problem(params, self.base)
            else read_json_or_none(self.base / "metrics.json")
        )
        self.baseline_info = read_json_or_none(self.base / "baseline.json")
        self.no_baseline = read_json_or_none(self.base / "none.json")
        self.model_trained = (paths.model_dir / "model.skops").is_file()
        self.steps = step_outcomes()
        # Each step's first error: the data's is found again here, the others were recorded.
        self.errors = {
            "train": (read_json_or_none(SMOKE_ERROR) or {}).get("error"),
            "baseline": (read_json_or_none(self.base / "error.json") or {}).get("error"),
        }
        try:
            data.run(params)
        except DataError as error:
            self.errors["data"] = str(error)

    @functools.cached_property
    def same_rows(self) -> bool:
        """Whether main and this branch held out the same rows (so any metric compares)."""
        here = read_json_or_none(self.params.paths.eval_dir / "holdout.json")
        there = read_json_or_none(self.base / "holdout.json")
        return bool(here and there and here.get("rows_hash") == there.get("rows_hash"))

    def failed(self, step: str) -> bool:
        """Whether CI reported `step` as failed (unknown outside CI)."""
        return self.steps.get(step) == "failure"


def step_outcomes() -> dict[str, str]:
    """Each CI step's outcome from STEPS_JSON (the pipeline job's `steps` context), if given."""
    try:
        steps = json.loads(read_settings(ReportSettings).steps_json or "{}")
    except json.JSONDecodeError:
        return {}
    if not isinstance(steps, dict):
        return {}
    return {
        str(step): str(value.get("outcome"))
        for step, value in steps.items()
        if isinstance(value, dict)
    }


def _failure(step: str, error: str | None, after: str) -> str:
    shown = f"\n\n> {cell(error, 1500)}" if error else " none recorded (see the step's log)."
    return f"## ❌ The {step} step failed\n\nIts first error:{shown}\n\n{after}"


def verdict_section(inputs: Inputs) -> str:
    """The first thing a reviewer reads: pass or fail, and why."""
    gate, validation = inputs.gate, inputs.validation
    if validation is not None and not validation.get("valid", False):
        count = len(validation.get("violations", []))
        return (
            f"## ❌ Data validation failed ({count} violation(s))\n\n"
            "Training and the metric gate did not run: the data breaks its contract. "
            "The violations are listed below."
        )
    errors = inputs.errors
    if inputs.failed("data") or (errors.get("data") and not inputs.steps):
        return _failure(
            "data", errors.get("data"), "Validation, training and the metric gate did not run."
        )
    unjudged = "The gate could not judge this PR's model."
    for step, after in (
        ("train", "The metric gate did not run."),
        ("baseline", unjudged),
        ("gate", unjudged),
    ):
        if inputs.failed(step) and gate is None:
            return _failure(step, errors.get(step), after)
    if gate is None:
        why = (
            "the model was trained but the gate did not run or failed before judging"
            if inputs.model_trained
            else "no model was trained on this branch (the train step did not run or failed)"
        )
        return f"## ⚠️ No gate verdict\n\nThe metric gate has no result: {why}."
    icon = "✅" if gate["verdict"] == "pass" else "❌"
    improved = [m for m in gate.get("metrics", []) if m["reason"] == "improved"]
    title = f"## {icon} Metric gate: {gate['verdict']}"
    if gate["verdict"] == "pass" and improved:
        title += " — improved " + ", ".join(
            f"{m['name']} ({_num(m['delta'], '+.4f')})" for m in improved
        )
    lines = [title, ""]
    policy = [note for note in gate.get("notes", []) if note.startswith(POLICY_CHANGE)]
    lines += [f"- ⚠️ **{note}**" for note in policy]
    lines += [f"- {note}" for note in gate.get("notes", []) if note not in policy]
    failing = [
        m
        for m in gate.get("metrics", [])
        if m["verdict"] == "fail"
        or (m["verdict"] == "inconclusive" and gate.get("inconclusive") == "fail")
    ]
    for m in failing:
        worse = "drop" if m["higher_is_better"] else "rise"
        lines.append(
            f"- **{m['name']}** {m['verdict']}: main {_num(m['baseline'])} → PR "
            f"{_num(m['candidate'])} (Δ {_num(m['delta'], '+.4f')}, "
            f"{gate['confidence']:.0%} CI [{_num(m['low'], '+.4f')}, {_num(m['high'], '+.4f')}]); "
            f"allowed {worse} {m['max_drop']:.4g}"
            + (f", floor {m['floor']:.4g}" if m.get("floor") is not None else "")
            + f" — {m['reason']}"
        )
    return "\n".join(lines)


def metrics_section(inputs: Inputs) -> str:
    """Every metric, main vs PR, with the gate's interval and verdict where it gates one."""
    pr, base_metrics = inputs.metrics or {}, inputs.base_metrics or {}
    gated = {m["name"]: m for m in (inputs.gate or {}).get("metrics", [])}
    if not pr and not gated:
        return "_No metrics: no model was evaluated on this branch._"
    confidence = (inputs.gate or {}).get("confidence", 0.95)
    lines = [
        f"| metric | main | PR | Δ | {confidence:.0%} CI of Δ | gate |",
        "|---|---:|---:|---:|---|---|",
    ]
    order = list(gated)  # the policy's order first, then the other metrics by name
    for name in sorted(
        set(pr) | set(gated), key=lambda n: (order.index(n) if n in gated else len(order), n)
    ):
        arrow = "↑" if HIGHER_IS_BETTER.get(name, True) else "↓"
        if name in gated:
            m = gated[name]
            base, cand, delta = m["baseline"], m["candidate"], m["delta"]
            interval = "n/a" if m["low"] is None else f"[{m['low']:+.4f}, {m['high']:+.4f}]"
            verdict = _ICONS.get(m["verdict"], "✅") + f" {m['verdict']}"
        else:
            base, cand = base_metrics.get(name), pr.get(name)
            delta = None
            if isinstance(cand, float) and isinstance(base, float) and inputs.same_rows:
                delta = cand - base
            interval, verdict = "", "not gated"
        lines.append(
            f"| {name} {arrow} | {_num(base)} | {_num(cand)} | {_num(delta, '+.4f')} | "
            f"{interval} | {verdict} |"
        )
    if base_metrics and not inputs.same_rows and set(pr) - set(gated):
        lines.append(
            "\n_Main and this branch hold out different rows: metrics that are not gated show "
            "main's value on its own held-out rows, with no Δ (the gated ones compare both "
            "models on this branch's rows)._"
        )
    return "\n".join(lines)


def params_section(params_file: Path, inputs: Inputs) -> tuple[str, ...]:
    """Flattened params keys whose value differs from main's."""
    current = _yaml(params_file)
    previous = _yaml(inputs.base / "params.yaml")
    if current is None or previous is None:
        return ("_No params from main to compare with._",)
    flat_pr, flat_main = flatten("", current), flatten("", previous)
    keys = sorted(k for k in set(flat_pr) | set(flat_main) if flat_pr.get(k) != flat_main.get(k))
    if not keys:
        return ("No params changed.",)

    def table(shown: list[str]) -> str:
        rows = ["| key | main | PR |", "|---|---|---|"]
        rows += [
            f"| `{cell(k)}` | {cell(flat_main.get(k, '(absent)'))} | "
            f"{cell(flat_pr.get(k, '(absent)'))} |"
            for k in shown
        ]
        if len(shown) < len(keys):
            rows.append(f"\n_{len(keys) - len(shown)} more changed key(s) not listed._")
        return "\n".join(rows)

    return (table(keys), table(keys[:20]), f"{len(keys)} params changed.")


def _validation_lines(report: dict[str, Any] | None, who: str, shown: int | None) -> list[str]:
    if report is None:
        return [f"- {who}: no validation report."]
    head = (
        f"- {who}: {'✅ valid' if report.get('valid') else '❌ invalid'} — "
        f"`{cell(report.get('source', '?'))}`, {report.get('rows')} rows, "
        f"{report.get('columns')} columns"
    )
    violations = report.get("violations", [])
    if not violations:
        return [head]
    listed = violations if shown is None else violations[:shown]
    lines = [head, "", *violations_table(listed)]
    if len(listed) < len(violations):
        lines.append(f"\n_{len(violations) - len(listed)} more violation(s) not listed._")
    return lines


def validation_section(inputs: Inputs) -> tuple[str, ...]:
    """This branch's data validation, in full, and main's in one line."""
    return tuple(
        "\n".join(
            _validation_lines(inputs.base_validation, "main", 0)[:1]
            + _validation_lines(inputs.validation, "PR", shown)
        )
        for shown in (None, 10, 0)
    )


def data_section(params: Params, inputs: Inputs) -> tuple[str, ...]:
    """Schema, row counts and per-column shift between main's data and this branch's."""
    if inputs.errors.get("data"):
        return (f"_This branch's data is not available: {cell(inputs.errors['data'], 600)}_",)
    reference = read_json_or_none(inputs.base / "profile.json")
    if reference is None:
        return ("_No profile of main's data to compare with (no baseline)._",)
    try:
        frame = read_table(params.data.path)
    except DataError as error:
        return (f"_This branch's data cannot be read: {cell(error, 300)}_",)
    skip = [params.data.id_column] if params.data.id_column else []
    target = (params.data.target, params.data.is_classification)
    current = profile(frame, list(params.data.numeric), list(params.data.categorical), skip, target)
    diff = compare(reference, frame, current, params.report.top_categories)
    return (diff_markdown(diff), diff_markdown(diff, 15), diff_markdown(diff, 5))


def model_section(params: Params, inputs: Inputs) -> str:
    """File size of each model (single-row latency is a benchmark's job: `make bench-serve`)."""
    rows = ["| model | file size |", "|---|---:|"]
    # The baseline keeps main's model.skops and model.json side by side at its root.
    for who, directory in (("main", inputs.base), ("PR", params.paths.model_dir)):
        path = directory / "model.skops"
        size = f"{path.stat().st_size / 1024:.1f} KiB" if path.is_file() else "n/a"
        rows.append(f"| {who} | {size} |")
    if all(row.endswith("| n/a |") for row in rows[2:]):
        return "_No model on either side._"
    return "\n".join(rows)


def plots_section(params: Params, inputs: Inputs, out: Path) -> str:
    """Copy the plots next to the report and lay them out main | PR."""
    images = out / "plots"
    if images.exists():
        shutil.rmtree(images)
    images.mkdir(parents=True)
    rows = ["| plot | main | PR |", "|---|---|---|"]
    for name in PLOTS:
        cells = []
        for who, source in (
            ("main", inputs.base / "plots" / f"{name}.png"),
            ("pr", params.paths.plots_dir / f"{name}.png"),
        ):
            if source.is_file():
                shutil.copyfile(source, images / f"{who}_{name}.png")
                label = "PR" if who == "pr" else who
                cells.append(f"![{label} {name}](plots/{who}_{name}.png)")
            else:
                cells.append("—")
        if any(c != "—" for c in cells):
            rows.append(f"| {name} | {cells[0]} | {cells[1]} |")
    return "\n".join(rows) if len(rows) > 2 else "_No plots: no model was evaluated._"


def find_run_id(uri: str, experiment: str, commit: str) -> str | None:
    """The newest run of `experiment` tagged with `commit`, or None (never raises, never hangs)."""
    # pylint: disable=import-outside-toplevel  # MLflow is slow to import; only with a server
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
    try:
        client = MlflowClient(tracking_uri=uri)
        found = client.get_experiment_by_name(experiment)
        if found is None:
            return None
        runs = client.search_runs(
            [found.experiment_id],
            filter_string=f"tags.`mlship.git_commit` = '{commit}'",
            order_by=["attributes.start_time DESC"],
            max_results=1,
        )
    except (MlflowException, OSError):
        return None
    return str(runs[0].info.run_id) if runs else None


def mlflow_line(experiment: str = "mlship", commit: str = "") -> str | None:
    """A link to this commit's run when a tracking server is configured (not the embedded store).

    The run is MLSHIP_MLFLOW_RUN_ID when set, else the newest run tagged with this commit.
    """
    uri = read_settings(TrackingSettings).tracking_uri.strip()
    if not uri.startswith(("http://", "https://")):
        return None
    run_id = read_settings(ReportSettings).mlship_mlflow_run_id.strip()
    if not run_id and commit:
        run_id = find_run_id(uri, experiment, commit) or ""
    if run_id:
        return f"MLflow run: [{run_id}]({uri.rstrip('/')}/#/runs/{run_id})"
    return f"MLflow: no run of this commit found on [{uri}]({uri})."


def build(params: Params, params_file: Path) -> str:
    """Render the report markdown (and copy its images into `report.out_dir`)."""
    inputs = Inputs(params)
    out = params.report.out_dir
    commit = _commit()
    if inputs.baseline_info:
        against = (
            f"main (`{cell(inputs.baseline_info.get('ref'))}` at "
            f"`{str(inputs.baseline_info.get('sha', ''))[:12]}`)"
        )
    elif inputs.no_baseline:
        against = f"no baseline ({cell(inputs.no_baseline.get('reason', ''))})"
    else:
        against = "no baseline (the baseline step did not run)"
    header = "\n".join(
        [MARKER, verdict_section(inputs), "", f"_PR commit `{commit[:12]}` vs {against}._"]
    )
    link = mlflow_line(params.tracking.experiment, commit)
    sections = [
        Section("Metrics", (metrics_section(inputs),), 0),
        Section("Data validation", validation_section(inputs), 1),
        Section("Data diff (main → PR)", data_section(params, inputs), 2),
        Section("Params changed", params_section(params_file, inputs), 3),
        Section("Model", (model_section(params, inputs),), 4),
        Section("Plots", (plots_section(params, inputs, out),), 5),
    ]
    if link:
        sections.append(Section("Tracking", (link,), 6))
    return assemble(header, sections, params.report.max_chars)


def run(params: Params, params_file: Path = Path("params.yaml")) -> Path:
    """Write `report.out_dir/report.md`; return its path."""
    text = build(params, params_file)
    path = params.report.out_dir / "report.md"
    write_text(path, text)
    print(f"report: {path} ({len(text)} characters)")
    return path


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = stage_parser("report", "Write the pull-request report for CML to post.")

    def _run(params: Params, args: argparse.Namespace) -> Path:
        return run(params, args.params)

    return run_main(parser, _run, argv)


if __name__ == "__main__":
    sys.exit(main())
