"""Judge the pull request's model against main's baseline on the same held-out rows, by main's
policy; write gate.json and gate.md. `mlship gate` (gate/cli.py) prints the verdict."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from pydantic import ValidationError

from mlship.config import GateParams, Params
from mlship.data.io import read_table
from mlship.errors import DataError, Incomparable, ModelError, ParamsError
from mlship.files import read_json, write_json, write_text
from mlship.model.bootstrap import FloatArray
from mlship.gate.policy import POLICY_CHANGE, GateResult, check_policy, judge
from mlship.model.artifact import load_model
from mlship.model.scoring import Labels, predict_scores, scores_from_frame
from mlship.tracking import flatten


def baseline_params(baseline_dir: Path) -> dict[str, Any]:
    """Main's params.yaml as a plain mapping (main may predate keys this branch knows)."""
    path = baseline_dir / "params.yaml"
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return {}
    return raw if isinstance(raw, dict) else {}


# Where the gate reads and writes: this checkout's layout, not part of the policy.
_LOCATIONS = {"baseline_dir", "out_dir"}


def _policy_values(policy: GateParams) -> dict[str, Any]:
    return flatten("gate", policy.model_dump(mode="json", exclude=_LOCATIONS))


def main_policy(params: Params, baseline_dir: Path) -> tuple[GateParams, list[str]]:
    """The policy to judge by: main's `gate:` section, or this branch's without a baseline.

    A pull request cannot loosen the gate that judges it: its own `gate:` changes apply once it
    is merged. The note returned says so and lists each changed key (main → PR).
    """
    if (baseline_dir / "none.json").is_file() or not (baseline_dir / "params.yaml").is_file():
        return params.gate, []  # no main yet (or no baseline built: the gate says so later)
    raw = baseline_params(baseline_dir).get("gate")
    if raw is None:
        return params.gate, [
            "main's params.yaml has no `gate:` section: this branch's policy applies"
        ]
    try:
        policy = GateParams.model_validate(
            {
                **{k: v for k, v in raw.items() if k not in _LOCATIONS},
                **{k: getattr(params.gate, k) for k in _LOCATIONS},
            }
        )
    except ValidationError as error:
        raise ParamsError(f"main's params.yaml: invalid `gate:` section: {error}") from None
    ours, theirs = _policy_values(params.gate), _policy_values(policy)
    changed = sorted(key for key in set(ours) | set(theirs) if ours.get(key) != theirs.get(key))
    if not changed:
        return policy, []
    diff = "; ".join(
        f"`{key}` {theirs.get(key, '(absent)')} → {ours.get(key, '(absent)')}" for key in changed
    )
    return policy, [f"{POLICY_CHANGE} (judged by main's policy): {diff}"]


def other_problem(params: Params, baseline_dir: Path) -> str | None:
    """Why main's model solves another problem than this branch's (None: the same one).

    Another task or target (the example replaced by a user's own data): main's model cannot be
    scored on these rows and main's gate metrics may not exist for this task.
    """
    main_data = baseline_params(baseline_dir).get("data")
    if not isinstance(main_data, dict):
        return None
    theirs = (main_data.get("task"), main_data.get("target"))
    ours = (params.data.task, params.data.target)
    if theirs == ours:
        return None
    return (
        f"main's model is for another problem (task '{theirs[0]}', target `{theirs[1]}`; "
        f"this branch: task '{ours[0]}', target `{ours[1]}`), so neither main's model nor its "
        "gate policy applies: this branch's policy judges it, and once merged it is the baseline"
    )


def _candidate(params: Params) -> tuple[pd.DataFrame, dict[str, Any]]:
    eval_dir = params.paths.eval_dir
    predictions = eval_dir / "predictions.csv"
    if not predictions.is_file():
        raise ModelError(
            f"{predictions}: no predictions of the pull request's model; run `make smoke` first"
        )
    return pd.read_csv(predictions, dtype={"id": str}), read_json(eval_dir / "holdout.json")


def rescore_baseline(params: Params, baseline_dir: Path) -> FloatArray:
    """Score main's model on this branch's held-out rows (the data or split changed).

    Raises:
        Incomparable: main's model lacks a column, a class or the task of this branch.
    """
    meta = read_json(baseline_dir / "model.json")
    task = params.data.task
    if meta.get("task") != task:
        raise Incomparable(f"main's model is for task '{meta.get('task')}', this branch '{task}'")
    current = read_json(params.paths.model_dir / "model.json")
    if [str(c) for c in meta.get("classes", [])] != [str(c) for c in current.get("classes", [])]:
        raise Incomparable(
            f"main's model predicts classes {meta.get('classes')}, "
            f"this branch's {current.get('classes')}"
        )
    try:
        test = read_table(params.paths.split_dir / "test.parquet")
    except DataError as error:
        raise Incomparable(
            f"this branch's held-out rows are needed to re-score it: {error}"
        ) from None
    features = [*meta.get("numeric", []), *meta.get("categorical", [])]
    missing = [column for column in features if column not in test.columns]
    if missing:
        raise Incomparable(f"main's model needs column(s) {missing} this branch no longer has")
    model = load_model(baseline_dir / "model.skops", list(meta.get("trusted_types", [])))
    labels = Labels(list(meta.get("classes", [])), meta.get("positive_index"))
    try:
        return predict_scores(model, test[features], labels, task)
    except (ValueError, TypeError, KeyError) as error:
        raise Incomparable(f"main's model cannot score this branch's rows: {error}") from None


def unseen_by_baseline(frame: pd.DataFrame, baseline_dir: Path) -> np.ndarray:
    """Mask of this branch's held-out rows that main's model did not train on.

    When the data grows, a random split moves some of main's training rows into this branch's
    held-out set; scoring main on them would flatter it. Without main's training ids (a
    baseline from an older mlship) every row is kept.
    """
    ids_file = baseline_dir / "train_ids.csv"
    if not ids_file.is_file():
        return np.ones(len(frame), dtype=bool)
    seen = pd.read_csv(ids_file, dtype={"id": str})["id"]
    return np.asarray(~frame["id"].isin(seen), dtype=bool)


def _baseline_scores(
    params: Params, frame: pd.DataFrame, holdout: dict[str, Any], baseline_dir: Path
) -> tuple[FloatArray | None, list[str], np.ndarray | None]:
    """Main's scores on the same rows (None without a baseline) and which rows to compare."""
    none_file = baseline_dir / "none.json"
    if none_file.is_file():
        reason = read_json(none_file).get("reason", "no baseline")
        return None, [f"no baseline: {reason}"], None
    base_holdout_path = baseline_dir / "holdout.json"
    if not base_holdout_path.is_file():
        raise DataError(
            f"{baseline_dir}: no baseline from main; run `make baseline` first "
            "(the gate does not pass a model it could not compare)"
        )
    base_holdout = read_json(base_holdout_path)
    if base_holdout.get("rows_hash") == holdout.get("rows_hash"):
        base = pd.read_csv(baseline_dir / "predictions.csv", dtype={"id": str})
        if not base["id"].equals(frame["id"]):
            raise Incomparable("held-out ids differ although their hash matches")
        _, scores = scores_from_frame(base, params.data.task)
        same = f"same held-out rows as main ({holdout.get('rows')} rows, hash matches)"
        return scores, [same], None
    keep = unseen_by_baseline(frame, baseline_dir)
    if not keep.any():
        raise Incomparable("every held-out row of this branch is a row main's model trained on")
    note = (
        f"held-out rows differ from main's ({base_holdout.get('rows')} rows there, "
        f"{holdout.get('rows')} here): this branch changes the data or the split, so main's "
        f"model was re-scored on the {int(keep.sum())} held-out rows it never trained on"
    )
    return rescore_baseline(params, baseline_dir)[keep], [note], keep


def run(params: Params) -> GateResult:
    """Compare by main's policy, write gate.json and gate.md, and return the result."""
    baseline_dir = params.gate.baseline_dir
    elsewhere = other_problem(params, baseline_dir)
    if elsewhere is None:
        policy, policy_notes = main_policy(params, baseline_dir)
    else:
        policy, policy_notes = params.gate, [elsewhere]
    check_policy(policy, params.data.task)
    frame, holdout = _candidate(params)
    y_true, candidate = scores_from_frame(frame, params.data.task)
    y = np.asarray(y_true, dtype=np.float64)
    base_threshold = float(baseline_params(baseline_dir).get("evaluate", {}).get("threshold", 0.5))
    thresholds = (base_threshold, params.evaluate.threshold)
    try:
        baseline, notes, keep = (
            (None, [], None)
            if elsewhere is not None
            else _baseline_scores(params, frame, holdout, baseline_dir)
        )
        if keep is not None:
            y, candidate = y[keep], candidate[keep]
        result = judge(
            policy, params.data.task, y, candidate, baseline, thresholds, policy_notes + notes
        )
    except Incomparable as error:
        floors = judge(policy, params.data.task, y, candidate, None, thresholds)
        result = dataclasses.replace(
            floors,
            verdict="fail",
            mode="incomparable",
            notes=policy_notes
            + [
                f"held-out rows differ from main's and cannot be compared ({error}); "
                "the gate fails closed"
            ],
        )
    out = params.gate.out_dir
    write_json(out / "gate.json", result.to_dict())
    write_text(out / "gate.md", result.to_markdown())
    return result
