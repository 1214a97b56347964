"""`mlship retrain`: validate the newest batch, decide, and if needed retrain, gate and register.

`mlship retrain --publish` then opens or updates one pull request per retrain (branch
`retrain/<month>`, carrying data.dvc and dvc.lock, the report in its body), or one issue when the
batch was invalid or the challenger failed the gate. The two halves are two make targets
(`retrain`, `retrain-pr`) so only the second holds a token that can write to GitHub.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil

# git and dvc run with fixed argument lists, never through a shell.
import subprocess  # nosec B404
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from mlship.config import DEFAULT_PARAMS, Params, load_params
from mlship.data.contract import load_schema_file, validate_frame
from mlship.data.io import read_table, write_table
from mlship.errors import DataError, GateFailed, MlshipError, SchemaViolation
from mlship.files import write_json, write_text
from mlship.io.github import GitHub
from mlship.monitoring.check import newest_batch, run_check
from mlship.retrain.decision import Decision, decide
from mlship.retrain.ingest import batch_path, check_month

ISSUE_LABEL = "mlship-retrain"
BOT = ("github-actions[bot]", "41898282+github-actions[bot]@users.noreply.github.com")
TRUE = {"1", "true", "yes", "on"}
DAY = 86_400.0


class CommandFailed(MlshipError):
    """git or dvc failed while retraining or publishing."""


def _run(command: list[str], env: dict[str, str] | None = None) -> str:
    try:
        result = subprocess.run(  # nosec B603
            command, capture_output=True, text=True, check=False, env=env, timeout=3600
        )
    except (OSError, subprocess.SubprocessError) as error:
        raise CommandFailed(f"`{' '.join(command[:3])}` could not run: {error}") from None
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise CommandFailed(f"`{' '.join(command[:3])}` failed (exit {result.returncode}):\n{tail}")
    return result.stdout.strip()


def _git(*args: str, env: dict[str, str] | None = None) -> str:
    return _run(["git", *args], env)


def _dvc(*args: str) -> str:
    # The DVC of this interpreter's environment, whatever PATH says.
    return _run([str(Path(sys.executable).parent / "dvc"), *args])


class Paths:
    """Where one retrain run writes: decision.json, summary.md, drift/, validation.md."""

    def __init__(self, params: Params) -> None:
        self.out = params.retrain.out_dir
        self.decision = self.out / "decision.json"
        self.summary = self.out / "summary.md"
        self.drift = self.out / "drift"
        self.validation = self.out / "validation.md"


def _save(paths: Paths, decision: Decision) -> None:
    write_json(paths.decision, decision.to_dict())
    write_text(paths.summary, decision.to_markdown())


def _step_summary(text: str) -> None:
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if target:
        with open(target, "a", encoding="utf-8") as handle:
            handle.write(text + "\n")


def model_age_days(params: Params, now: float | None = None) -> float | None:
    """Days since the champion's dvc.lock was committed (None outside git or uncommitted)."""
    try:
        stamp = _git("log", "-1", "--format=%ct", "--", "dvc.lock")
    except CommandFailed:
        return None
    if not stamp.isdigit():
        return None
    del params  # the lock file is the pipeline's; kept for a future per-model source
    return max(0.0, ((now or time.time()) - int(stamp)) / DAY)


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


def _dvc_files() -> list[Path]:
    # `.dvc` (DVC's own directory) matches the pattern too.
    return sorted(p.relative_to(Path.cwd()) for p in Path.cwd().glob("*.dvc") if p.is_file())


def _data_target(params: Params) -> Path:
    """The DVC-tracked path holding data.path (a .dvc file's output), else data.path itself."""
    data = params.data.path.resolve()
    for dvc_file in _dvc_files():
        raw = yaml.safe_load(dvc_file.read_text(encoding="utf-8")) or {}
        for out in raw.get("outs", []):
            tracked = (dvc_file.parent / str(out["path"])).resolve()
            if data == tracked or tracked in data.parents:
                return tracked.relative_to(Path.cwd().resolve())
    return params.data.path


def _append_batch(params: Params, batch: pd.DataFrame) -> int:
    """Append the batch to the dataset (rows whose id is already there are replaced)."""
    current = read_table(params.data.path)
    id_column = params.data.id_column
    if id_column and id_column in current.columns and id_column in batch.columns:
        current = current[~current[id_column].astype(str).isin(batch[id_column].astype(str))]
    combined = pd.concat([current, batch[current.columns.intersection(batch.columns)]])
    write_table(combined.reset_index(drop=True), params.data.path)
    return len(combined)


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
    from mlship.registry.cli import connect
    from mlship.tracking import configure

    # MLflow resolves `models:/` sources through its global tracking URI, not the client's.
    configure(params)
    registry = connect(params)
    return registry.register(registry.latest_run_id(params.tracking.experiment))


def retrain(params: Params, params_file: Path, decision: Decision, paths: Paths) -> None:
    """Append the batch, rebuild with DVC, gate against the champion, register the challenger."""
    # pylint: disable=import-outside-toplevel  # the gate pulls in plotting and bootstrap code
    from mlship.gate.cli import run as run_gate

    _baseline_from_workspace(params, params_file)
    rows = _append_batch(params, read_table(Path(decision.batch)))
    _dvc("add", "--quiet", str(_data_target(params)))
    print(f"retrain: dataset now {rows} rows; running dvc repro")
    _dvc("repro")
    result = run_gate(params)
    if result.mode != "incomparable":
        decision.notes.append(
            f"gate compared both models on {result.rows} held-out rows the champion never "
            "trained on"
        )
    decision.gate_verdict = result.verdict
    if result.verdict == "fail":
        decision.outcome = "gate-failed"
        _save(paths, decision)
        raise GateFailed("; ".join(result.failure_lines()) or "the challenger failed the gate")
    if params.tracking.enabled:
        decision.registered_version = _register(params)
    else:
        decision.notes.append("tracking disabled: challenger not registered")
    if _dvc("remote", "list"):
        _dvc("push")
    decision.outcome = "retrained"
    _save(paths, decision)


def run(params: Params, params_file: Path, month: str | None, force: bool) -> Decision:
    """Validate, check drift, decide, and retrain when the decision says so."""
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
        _save(paths, decision)
        _step_summary(decision.to_markdown() + "\n" + paths.validation.read_text("utf-8"))
        raise SchemaViolation(violations)
    result, _ = run_check(
        params,
        params.paths.split_dir / "train.parquet",
        batch,
        paths.drift,
        params.paths.model_dir,
    )
    age = model_age_days(params)
    decision = decide(month, str(batch), result, age, params.retrain.max_model_age_days, force)
    _save(paths, decision)
    print(decision.headline())
    if decision.action == "retrain":
        try:
            retrain(params, params_file, decision, paths)
        finally:
            _step_summary(decision.to_markdown())
    else:
        _step_summary(decision.to_markdown())
    return decision


# --------------------------------------------------------------------------- publishing


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8") if path.is_file() else ""


def pr_body(params: Params, paths: Paths, decision: Decision) -> str:
    """The pull request's body: decision, gate report, drift report."""
    gate = _read(params.gate.out_dir / "gate.md")
    drift = _read(paths.drift / "drift.md")
    parts = [
        "<!-- mlship retrain -->",
        decision.to_markdown(),
        "### Gate: challenger vs champion\n\n" + (gate or "_no gate report_"),
        "### Drift: batch vs the champion's training data\n\n" + (drift or "_no drift report_"),
        "_Opened by the scheduled retrain workflow; merging it makes this model the next "
        "champion candidate._",
    ]
    return "\n\n".join(parts) + "\n"


def _push_env(url: str, token: str) -> dict[str, str]:
    env = dict(os.environ)
    if token and url.startswith("https://"):
        # An Authorization header from the environment: the token never lands in argv, in
        # .git/config or in the URL, the way actions/checkout passes it.
        basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
        env.update(
            {
                "GIT_CONFIG_COUNT": "1",
                "GIT_CONFIG_KEY_0": f"http.{url}.extraheader",
                "GIT_CONFIG_VALUE_0": f"AUTHORIZATION: basic {basic}",
            }
        )
    return env


def push_branch(params: Params, decision: Decision) -> str:
    """Commit data.dvc and dvc.lock on retrain/<month> and force-push it; return the branch."""
    branch = f"{params.retrain.branch_prefix}{decision.month}"
    server = os.environ.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/")
    repository = os.environ.get("GITHUB_REPOSITORY", "")
    url = os.environ.get("RETRAIN_PUSH_URL") or f"{server}/{repository}.git"
    identity = ["-c", f"user.name={BOT[0]}", "-c", f"user.email={BOT[1]}"]
    _git("checkout", "--quiet", "-B", branch)
    tracked = [str(p) for p in _dvc_files()] + ["dvc.lock"]
    _git("add", "--", *[p for p in tracked if Path(p).exists()])
    message = f"Retrain on {decision.month} data\n\n{decision.headline()}"
    _git(*identity, "commit", "--quiet", "--allow-empty", "-m", message)
    # One branch per month: a second run of the month replaces it, and so updates its PR.
    token = os.environ.get("GITHUB_TOKEN", "")
    _git("push", "--quiet", "--force", url, f"HEAD:refs/heads/{branch}", env=_push_env(url, token))
    return branch


def publish(params: Params) -> dict[str, Any]:
    """Open or update the PR of a retrain, or the issue of a rejected batch or failed gate."""
    paths = Paths(params)
    if not paths.decision.is_file():
        raise DataError(f"{paths.decision} is missing: run `mlship retrain` first")
    decision = Decision.from_dict(json.loads(paths.decision.read_text(encoding="utf-8")))
    if decision.outcome not in {"rejected", "gate-failed", "retrained"}:
        print(f"retrain: nothing to publish ({decision.headline()})")
        return {"action": "none"}
    github = GitHub.from_env()
    try:
        if decision.outcome == "rejected":
            title = f"Data batch {decision.month} failed validation"
            body = decision.to_markdown() + "\n" + _read(paths.validation)
            done = github.upsert_issue(title, body, ISSUE_LABEL)
        elif decision.outcome == "gate-failed":
            title = f"Retrain on {decision.month} data: the challenger failed the gate"
            done = github.upsert_issue(title, pr_body(params, paths, decision), ISSUE_LABEL)
        else:
            branch = push_branch(params, decision)
            title = f"Retrain on {decision.month} data"
            done = github.upsert_pull(
                branch, params.retrain.base_branch, title, pr_body(params, paths, decision)
            )
    finally:
        github.close()
    kind = "pull request" if decision.outcome == "retrained" else "issue"
    print(f"retrain: {done['action']} {kind} #{done['number']} {done['url']}".rstrip())
    return done


def _fail(prog: str, error: MlshipError) -> int:
    print(f"{prog}: error: {error}", file=sys.stderr)
    return error.exit_code


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(
        prog="mlship retrain",
        description="Decide on the newest data batch; retrain, gate and register when needed.",
    )
    parser.add_argument(
        "--params", type=Path, default=DEFAULT_PARAMS, help="params file (default: params.yaml)"
    )
    parser.add_argument(
        "--month", help="batch month YYYY-MM (default: $RETRAIN_MONTH, else newest)"
    )
    parser.add_argument(
        "--force", action="store_true", help="retrain whatever the checks say (or RETRAIN_FORCE)"
    )
    parser.add_argument(
        "--publish",
        action="store_true",
        help="open/update the retrain PR or the issue (needs GITHUB_TOKEN, GITHUB_REPOSITORY)",
    )
    args = parser.parse_args(argv)
    try:
        params = load_params(args.params)
        if args.publish:
            publish(params)
            return 0
        force = args.force or os.environ.get("RETRAIN_FORCE", "").strip().lower() in TRUE
        month = args.month or os.environ.get("RETRAIN_MONTH", "").strip() or None
        run(params, args.params, month, force)
    except MlshipError as error:  # GitHubError included
        return _fail(parser.prog, error)
    return 0


if __name__ == "__main__":
    sys.exit(main())
