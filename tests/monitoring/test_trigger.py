"""The retrain trigger: any reason fires one repository_dispatch per cooldown, reason included."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mlship.errors import GitHubError
from mlship.io.github import GitHub
from mlship.monitoring.trigger import fire_retrain

NOW = 1_780_000_000.0  # epoch seconds (2026)
CONCEPT = "live roc_auc 0.51 [0.46, 0.56] on 600 labelled rows of version 1 is worse"


def test_a_concept_drift_reason_fires_once_per_cooldown_whatever_comes_next(
    tmp_path: Path, standin: Any
) -> None:
    state = tmp_path / "trigger.json"
    fired = fire_retrain([CONCEPT], {"labelled_rows": 600}, state, 24, now=NOW)
    assert fired == {"fired": True, "reason": CONCEPT}
    later = fire_retrain(["data drift: age"], {}, state, 24, now=NOW + 3600)
    assert not later["fired"] and later["reason"].startswith("cooling down")
    (dispatch,) = standin.dispatches
    assert dispatch == {
        "event_type": "retrain",
        "client_payload": {"reason": CONCEPT, "reasons": [CONCEPT], "labelled_rows": 600},
    }
    again = fire_retrain(["data drift: age"], {}, state, 24, now=NOW + 25 * 3600)
    assert again["fired"] and len(standin.dispatches) == 2


def test_no_reason_sends_nothing(tmp_path: Path, standin: Any) -> None:
    assert not fire_retrain([], {}, tmp_path / "trigger.json", 24, now=NOW)["fired"]
    assert standin.dispatches == [] and not (tmp_path / "trigger.json").exists()


def test_the_standin_refuses_a_payload_github_would_refuse(standin: Any) -> None:
    github = GitHub.from_env()
    try:
        with pytest.raises(GitHubError):
            github.dispatch("retrain", {f"k{i}": i for i in range(11)})
        with pytest.raises(GitHubError):
            github.dispatch("r" * 101, {})
    finally:
        github.close()
    assert standin.dispatches == []
