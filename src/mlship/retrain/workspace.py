"""The retrain run's files and the checkout it works in: outputs, DVC-tracked data, model age."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import yaml

from mlship.config import Params
from mlship.data.io import read_table, write_table
from mlship.errors import CommandFailed
from mlship.files import write_json, write_text
from mlship.io.process import git
from mlship.retrain.decision import Decision
from mlship.retrain.report import decision_markdown

DAY = 86_400.0


class Paths:
    """Where one retrain run writes: decision.json, summary.md, drift/, validation.md."""

    def __init__(self, params: Params) -> None:
        self.out = params.retrain.out_dir
        self.decision = self.out / "decision.json"
        self.summary = self.out / "summary.md"
        self.drift = self.out / "drift"
        self.validation = self.out / "validation.md"


def save_decision(paths: Paths, decision: Decision) -> None:
    """Write decision.json (read back by `--publish`) and its summary.md."""
    write_json(paths.decision, decision.to_dict())
    write_text(paths.summary, decision_markdown(decision))


def model_age_days(params: Params, now: float | None = None) -> float | None:
    """Days since the champion's dvc.lock was committed (None outside git or uncommitted)."""
    try:
        stamp = git("log", "-1", "--format=%ct", "--", "dvc.lock")
    except CommandFailed:
        return None
    if not stamp.isdigit():
        return None
    del params  # the lock file is the pipeline's; kept for a future per-model source
    return max(0.0, ((now or time.time()) - int(stamp)) / DAY)


def dvc_files() -> list[Path]:
    """The `*.dvc` files at the top of the checkout, relative to it."""
    # `.dvc` (DVC's own directory) matches the pattern too.
    return sorted(p.relative_to(Path.cwd()) for p in Path.cwd().glob("*.dvc") if p.is_file())


def data_target(params: Params) -> Path:
    """The DVC-tracked path holding data.path (a .dvc file's output), else data.path itself."""
    data = params.data.path.resolve()
    for dvc_file in dvc_files():
        raw = yaml.safe_load(dvc_file.read_text(encoding="utf-8")) or {}
        for out in raw.get("outs", []):
            tracked = (dvc_file.parent / str(out["path"])).resolve()
            if data == tracked or tracked in data.parents:
                return tracked.relative_to(Path.cwd().resolve())
    return params.data.path


def append_batch(params: Params, batch: pd.DataFrame) -> int:
    """Append the batch to the dataset (rows whose id is already there are replaced)."""
    current = read_table(params.data.path)
    id_column = params.data.id_column
    if id_column and id_column in current.columns and id_column in batch.columns:
        current = current[~current[id_column].astype(str).isin(batch[id_column].astype(str))]
    combined = pd.concat([current, batch[current.columns.intersection(batch.columns)]])
    write_table(combined.reset_index(drop=True), params.data.path)
    return len(combined)
