"""`mlship report` renders for a passing PR, for invalid data with no model, and within a limit."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from mlship.config import load_params
from mlship.errors import SchemaViolation
from mlship.gate import cli as gate_cli
from mlship.report import cli as report_cli
from mlship.report.markdown import MARKER
from mlship.stages import data, validate


@pytest.fixture(name="gated_project")
def _gated_project(baselined_project: Path) -> Path:
    """A trained project, its own outputs as main's baseline, and the gate already run."""
    assert gate_cli.main([]) == 0
    return baselined_project


def _report(root: Path) -> str:
    assert report_cli.main([]) == 0
    return (root / "reports/pr/report.md").read_text(encoding="utf-8")


def test_report_of_an_unchanged_model_puts_the_verdict_first_and_every_section_after(
    gated_project: Path,
) -> None:
    text = _report(gated_project)
    assert text.startswith(MARKER)
    assert text.splitlines()[1] == "## ✅ Metric gate: pass"
    assert "no metric change" in text
    titles = re.findall(r"^### (.+)$", text, flags=re.MULTILINE)
    assert titles == [
        "Metrics",
        "Data validation",
        "Data diff (main → PR)",
        "Params changed",
        "Model",
        "Plots",
    ]
    assert "| roc_auc ↑ |" in text and "| accuracy ↑ |" in text
    assert "No params changed." in text
    assert "the data did not change" in text
    assert re.search(r"\| main \| \d+\.\d KiB \|$", text, flags=re.MULTILINE)
    assert "latency" not in text  # byte-identical models timed 9.6 vs 13.2 ms: noise, gone


def test_report_images_are_copied_beside_it_for_cml_to_upload(gated_project: Path) -> None:
    text = _report(gated_project)
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert "plots/main_roc.png" in images and "plots/pr_roc.png" in images
    for image in images:
        assert (gated_project / "reports/pr" / image).is_file(), image


def test_report_lists_changed_params_against_main(gated_project: Path) -> None:
    params = gated_project / "params.yaml"
    raw = yaml.safe_load(params.read_text(encoding="utf-8"))
    raw["train"]["hyperparams"]["max_iter"] = 7
    params.write_text(yaml.safe_dump(raw), encoding="utf-8")
    text = _report(gated_project)
    assert "| `train.hyperparams.max_iter` | 200 | 7 |" in text


def _invalid_project(root: Path, max_chars: int | None = None) -> None:
    raw = yaml.safe_load((root / "params.yaml").read_text(encoding="utf-8"))
    if max_chars:
        raw["report"]["max_chars"] = max_chars
    (root / "params.yaml").write_text(yaml.safe_dump(raw), encoding="utf-8")
    params = load_params(root / "params.yaml")
    data.write_example(params)
    frame = pd.read_csv(params.data.path)
    frame.loc[:40, "tenure_months"] = -5
    frame.loc[:9, "contract"] = [f"bogus-{i}" for i in range(10)]
    frame.to_csv(params.data.path, index=False)
    with pytest.raises(SchemaViolation):
        validate.run(params)


def test_report_for_invalid_data_says_why_training_and_gate_did_not_run(in_project: Path) -> None:
    _invalid_project(in_project)
    text = _report(in_project)
    assert text.splitlines()[1].startswith("## ❌ Data validation failed")
    assert "Training and the metric gate did not run" in text
    assert "| `tenure_months` |" in text and "| `contract` |" in text
    assert "no model was evaluated" in text.lower()
    assert "no baseline (the baseline step did not run)" in text


def test_report_stays_under_the_configured_limit_dropping_plots_first(
    gated_project: Path,
) -> None:
    churn = gated_project / "data/churn.csv"
    frame = pd.read_csv(churn)
    frame["tenure_months"] += 10  # a shifted column makes the data diff list every column
    frame.to_csv(churn, index=False)
    full = _report(gated_project)
    assert "⚠️ Shift (PSI ≥ 0.2) in: `tenure_months`" in full
    params = gated_project / "params.yaml"
    raw = yaml.safe_load(params.read_text(encoding="utf-8"))
    raw["report"]["max_chars"] = 2_000
    params.write_text(yaml.safe_dump(raw), encoding="utf-8")
    text = _report(gated_project)
    assert len(full) > 2_000 >= len(text)
    assert text.startswith(MARKER) and "## ✅ Metric gate: pass" in text
    assert "### Metrics" in text and "### Plots" not in text
    assert "Omitted to stay under GitHub's comment limit: plots" in text


def test_mlflow_link_appears_only_for_a_tracking_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///mlruns/mlflow.db")
    assert report_cli.mlflow_line() is None
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000/")
    monkeypatch.setenv("MLSHIP_MLFLOW_RUN_ID", "abc123")
    assert report_cli.mlflow_line() == ("MLflow run: [abc123](http://127.0.0.1:5000/#/runs/abc123)")


def test_mlflow_run_of_this_commit_is_found_by_its_tag(tmp_path: Path) -> None:
    import mlflow  # pylint: disable=import-outside-toplevel

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = mlflow.tracking.MlflowClient(tracking_uri=uri)
    experiment = client.create_experiment("mlship", artifact_location=tmp_path.as_uri())
    run = client.create_run(experiment, tags={"mlship.git_commit": "c0ffee"})
    client.set_terminated(run.info.run_id)
    assert report_cli.find_run_id(uri, "mlship", "c0ffee") == run.info.run_id
    assert report_cli.find_run_id(uri, "mlship", "other") is None
    assert report_cli.find_run_id(uri, "no-such-experiment", "c0ffee") is None


def test_ungated_metrics_on_different_held_out_rows_show_no_delta(gated_project: Path) -> None:
    holdout = gated_project / "reports/baseline/holdout.json"
    recorded = holdout.read_text(encoding="utf-8")
    holdout.write_text(re.sub(r'"rows_hash": "\w+"', '"rows_hash": "other"', recorded))
    text = _report(gated_project)
    assert "hold out different rows" in text
    accuracy = next(line for line in text.splitlines() if line.startswith("| accuracy ↑ |"))
    assert accuracy.split("|")[4].strip() == report_cli._num(None)  # no Δ across other rows
    assert "not gated" in accuracy


def test_ungated_metrics_on_the_same_rows_show_their_delta(gated_project: Path) -> None:
    text = _report(gated_project)
    accuracy = next(line for line in text.splitlines() if line.startswith("| accuracy ↑ |"))
    assert accuracy.split("|")[4].strip() == "+0.0000"
    assert "hold out different rows" not in text


def test_mains_metrics_of_another_problem_are_not_shown_beside_this_branchs(
    gated_project: Path,
) -> None:
    base = gated_project / "reports/baseline/params.yaml"
    raw = yaml.safe_load(base.read_text(encoding="utf-8"))
    raw["data"].update(task="regression", target="spend")  # main before `mlship init`
    base.write_text(yaml.safe_dump(raw), encoding="utf-8")
    text = _report(gated_project)
    accuracy = next(line for line in text.splitlines() if line.startswith("| accuracy ↑ |"))
    assert accuracy.split("|")[2].strip() == report_cli._num(None)  # main's column is empty
    assert "hold out different rows" not in text
