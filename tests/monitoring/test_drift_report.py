"""The drift reports a reviewer reads: markdown for the PR, one self-contained HTML page."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlship.config import DriftSettings
from mlship.monitoring.drift import detect_drift
from mlship.monitoring.results import DriftResult
from mlship.monitoring.drift_report import to_html, to_markdown, write_reports

NUMERIC = ["age", "income", "score"]
CATEGORICAL = ["plan"]


def make_frame(seed: int, rows: int = 2000) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "age": rng.normal(40, 10, size=rows),
            "income": rng.lognormal(10, 0.5, size=rows),
            "score": rng.uniform(size=rows),
            "plan": rng.choice(np.array(["free", "pro", "team"]), size=rows),
        }
    )


@pytest.fixture(name="frames", scope="module")
def fixture_frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    reference, current = make_frame(1), make_frame(2)
    current["score"] = current["score"] ** 2
    current.loc[:199, "plan"] = "enterprise"
    return reference, current


@pytest.fixture(name="result", scope="module")
def fixture_result(frames: tuple[pd.DataFrame, pd.DataFrame]) -> DriftResult:
    return detect_drift(*frames, NUMERIC, CATEGORICAL, DriftSettings())


def test_markdown_starts_with_the_verdict_and_lists_drifted_features_first(
    result: DriftResult,
) -> None:
    markdown = to_markdown(result)

    assert markdown.startswith("### **Drift detected**")
    assert set(result.drifted_features) == {"score", "plan"}
    drifted_table = markdown.index("#### Drifted features")
    stable_table = markdown.index("stable features")
    assert drifted_table < markdown.index("`score`", drifted_table) < stable_table
    assert markdown.index("`age`", drifted_table) > stable_table


def test_markdown_says_no_drift_when_nothing_moved() -> None:
    result = detect_drift(
        make_frame(1), make_frame(2), NUMERIC, CATEGORICAL, DriftSettings(domain_classifier=False)
    )

    assert to_markdown(result).startswith("### **No drift detected** — 0 of 4 features")


def test_html_is_self_contained(
    result: DriftResult, frames: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    page = to_html(result, *frames)

    assert not re.search(r"(src|href)\s*=\s*[\"']?\s*(https?:)?//", page, re.IGNORECASE)
    assert "<script" not in page and "<link" not in page
    # Two drifted features, the ROC curve and the importance chart.
    assert page.count('src="data:image/png;base64,') == 4


def test_html_lists_drifted_features_first(
    result: DriftResult, frames: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    page = to_html(result, *frames)

    rows = re.findall(r"<tr( class=\"drifted\")?><td>([^<]+)</td>", page)
    flags = [bool(css) for css, _ in rows]
    assert flags == sorted(flags, reverse=True)
    assert [name for _, name in rows][:2] == list(result.drifted_features)


def test_write_reports_writes_json_markdown_and_html(
    result: DriftResult, frames: tuple[pd.DataFrame, pd.DataFrame], tmp_path: Path
) -> None:
    out = tmp_path / "reports" / "drift"

    paths = write_reports(result, *frames, out)

    assert sorted(p.name for p in out.iterdir()) == ["drift.html", "drift.json", "drift.md"]
    assert json.loads(paths["json"].read_text(encoding="utf-8")) == result.to_dict()
    assert paths["markdown"].read_text(encoding="utf-8") == to_markdown(result)


def test_write_reports_replaces_previous_files(
    result: DriftResult, frames: tuple[pd.DataFrame, pd.DataFrame], tmp_path: Path
) -> None:
    (tmp_path / "drift.md").write_text("stale", encoding="utf-8")

    write_reports(result, *frames, tmp_path)

    assert (tmp_path / "drift.md").read_text(encoding="utf-8").startswith("### ")
    assert len(list(tmp_path.iterdir())) == 3
