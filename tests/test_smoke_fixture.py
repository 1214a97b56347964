"""The shared fixtures build a real, evaluated project."""

from __future__ import annotations

import json
from pathlib import Path

from mlship.config import Params


def test_trained_project_has_model_metrics_and_predictions(
    trained_project: tuple[Path, Params],
) -> None:
    root, params = trained_project
    metrics = json.loads((root / params.paths.metrics).read_text())
    assert metrics["roc_auc"] > 0.7
    assert (root / params.paths.model_dir / "model.skops").stat().st_size > 0
    assert (root / params.paths.eval_dir / "predictions.csv").exists()
