"""Fire the retrain workflow with a GitHub `repository_dispatch`, at most once per cooldown."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from mlship.files import read_json_or_none, write_json
from mlship.io.github import GitHub
from mlship.monitoring.results import DriftResult

EVENT_TYPE = "retrain"  # retrain.yml: on: repository_dispatch: types: [retrain]


def _last_fired(state: Path) -> float:
    value = (read_json_or_none(state) or {}).get("fired_at", 0.0)
    return float(value) if isinstance(value, (int, float)) else 0.0


def fire_retrain(
    result: DriftResult, state: Path, cooldown_hours: float, now: float | None = None
) -> dict[str, Any]:
    """POST $GITHUB_API_URL/repos/$GITHUB_REPOSITORY/dispatches when drifted and not cooling down.

    Returns what happened: {"fired": bool, "reason": str}.

    Raises:
        GitHubError: the environment lacks the repository or token, or GitHub refused the call.
    """
    now = time.time() if now is None else now
    if not result.drifted:
        return {"fired": False, "reason": "no drift"}
    since = now - _last_fired(state)
    if since < cooldown_hours * 3600:
        return {
            "fired": False,
            "reason": f"cooling down: last trigger {since / 3600:.1f} h ago (< {cooldown_hours} h)",
        }
    features = list(result.drifted_features)[:20]
    payload: dict[str, Any] = {
        "reason": "live drift",
        "drifted_features": features,
        "domain_auc": None if result.domain is None else round(result.domain.auc, 4),
        "window_rows": result.n_current,
    }
    github = GitHub.from_env()
    try:
        github.dispatch(EVENT_TYPE, payload)
    finally:
        github.close()
    write_json(state, {"fired_at": now, "payload": payload})
    return {
        "fired": True,
        "reason": "drift: " + (", ".join(features) or "joint"),
    }
