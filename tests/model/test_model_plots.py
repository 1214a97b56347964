"""Each task writes its plots as PNG (for people) and CSV (for `dvc plots`), reproducibly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlship.model.plots import evaluation_plots, importance_plot

RNG = np.random.default_rng(0)
Y_BINARY = RNG.integers(0, 2, 200)
CASES = {
    "binary": (Y_BINARY, np.clip(Y_BINARY * 0.4 + RNG.random(200) * 0.6, 0, 1), []),
    "multiclass": (RNG.integers(0, 3, 90), RNG.dirichlet([1, 1, 1], 90), ["a", "b", "c"]),
    "regression": (RNG.normal(size=80), RNG.normal(size=80), []),
}
EXPECTED = {
    "binary": {"roc", "pr", "calibration", "confusion"},
    "multiclass": {"confusion"},
    "regression": {"residuals"},
}


def plot(task: str, out: Path) -> None:
    y_true, scores, names = CASES[task]
    evaluation_plots(out, task, y_true, scores, names, threshold=0.5)  # type: ignore[arg-type]


@pytest.mark.parametrize("task", sorted(CASES))
def test_each_task_writes_its_plots_as_png_and_csv(task: str, tmp_path: Path) -> None:
    plot(task, tmp_path / "plots")
    files = {p.name for p in (tmp_path / "plots").iterdir()}
    expected = {f"{name}.{ext}" for name in EXPECTED[task] for ext in ("png", "csv")}
    if task == "regression":  # drawn from residuals.csv, as dvc.yaml's plot of it is
        expected.add("predicted_vs_actual.png")
    assert files == expected  # and no temp file left behind
    for name in EXPECTED[task]:
        assert (tmp_path / "plots" / f"{name}.png").read_bytes().startswith(b"\x89PNG")
        assert len(pd.read_csv(tmp_path / "plots" / f"{name}.csv")) > 0


def test_binary_roc_csv_runs_from_zero_to_one(tmp_path: Path) -> None:
    plot("binary", tmp_path)
    roc = pd.read_csv(tmp_path / "roc.csv")
    assert list(roc.columns) == ["fpr", "tpr"]
    assert roc["fpr"].iloc[0] == 0 and roc["tpr"].iloc[-1] == 1


def test_multiclass_confusion_uses_class_names(tmp_path: Path) -> None:
    plot("multiclass", tmp_path)
    confusion = pd.read_csv(tmp_path / "confusion.csv")
    assert set(confusion["actual"]) <= {"a", "b", "c"}
    assert len(confusion) == 90


def test_same_inputs_give_identical_png_bytes(tmp_path: Path) -> None:
    plot("binary", tmp_path / "a")
    plot("binary", tmp_path / "b")
    assert (tmp_path / "a" / "roc.png").read_bytes() == (tmp_path / "b" / "roc.png").read_bytes()


def test_importance_plot_writes_chart_and_table(tmp_path: Path) -> None:
    frame = pd.DataFrame({"feature": ["tenure", "charges"], "importance": [0.2, 0.05]})
    importance_plot(tmp_path, frame)
    assert (tmp_path / "importance.png").stat().st_size > 0
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "importance.csv"), frame)
