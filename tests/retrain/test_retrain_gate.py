"""`mlship retrain` gates the challenger against the champion on rows the champion never saw."""

from __future__ import annotations

import json
from contextlib import suppress
from pathlib import Path

import pytest
from conftest import run_pipeline

from mlship.config import load_params
from mlship.data.io import read_table
from mlship.errors import GateFailed
from mlship.retrain import ingest
from mlship.retrain import loop as retrain_loop
from mlship.retrain.workspace import Paths

MONTH = "2026-07"


def test_retrain_gates_only_on_held_out_rows_the_champion_never_trained_on(
    project_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    params = load_params(project_copy / "params.yaml")
    train = read_table(params.paths.split_dir / "train.parquet")
    champion_rows = set(train["__id__"].astype(str))
    ingest.run(params, MONTH, "stable")

    calls: list[tuple[str, ...]] = []

    def dvc(*args: str) -> str:
        # Recorded. The stages in-process stand in for `dvc repro` in this copy, which is no
        # DVC project and has no remote; tests/workflows run retrain with the real DVC.
        calls.append(args)
        if args[0] == "repro":
            run_pipeline(params, with_data=False)
        return ""

    monkeypatch.setattr(retrain_loop, "dvc", dvc)
    # Pass or fail is not the point here (a few hundred rows can leave it inconclusive); the
    # rows it compared on are.
    with suppress(GateFailed):
        retrain_loop.run(params, project_copy / "params.yaml", MONTH, force=True)
    decision = json.loads(Paths(params).decision.read_text(encoding="utf-8"))
    assert decision["outcome"] in {"retrained", "gate-failed"}
    assert calls[:2] == [("add", "--quiet", str(params.data.path)), ("repro",)]
    # No remote configured: asked, nothing pushed (a failed gate stops before that).
    assert calls[2:] == ([("remote", "list")] if decision["outcome"] == "retrained" else [])

    held_out = read_table(params.paths.split_dir / "test.parquet")["__id__"].astype(str)
    unseen = int((~held_out.isin(champion_rows)).sum())
    # The split reshuffled with the new rows, so part of the held-out set is champion training.
    assert 0 < unseen < len(held_out)
    gate = json.loads((params.gate.out_dir / "gate.json").read_text(encoding="utf-8"))
    assert gate["mode"] == "compared" and gate["rows"] == unseen
    note = f"gate compared both models on {unseen} held-out rows the champion never trained on"
    assert note in decision["notes"]
