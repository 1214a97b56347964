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


def drift_reasons(result: DriftResult) -> tuple[list[str], dict[str, Any]]:
    """(why to retrain, payload details) for a data drift check: no reason when it did not drift."""
    features = list(result.drifted_features)[:20]
    details: dict[str, Any] = {
        "drifted_features": features,
        "domain_auc": None if result.domain is None else round(result.domain.auc, 4),
        "window_rows": result.n_current,
    }
    if not result.drifted:
        return [], details
    return ["data drift: " + (", ".join(features) or "joint")], details


def fire_retrain(
    reasons: list[str],
    details: dict[str, Any],
    state: Path,
    cooldown_hours: float,
    now: float | None = None,
) -> dict[str, Any]:
    """POST $GITHUB_API_URL/repos/$GITHUB_REPOSITORY/dispatches when there is a reason (data
    drift, concept drift, a KPI) and no trigger fired within the cooldown.

    The payload carries `reason` (the reasons joined, which retrain.yml hands to
    `mlship retrain` as RETRAIN_REASON) and `reasons`, plus `details`. One cooldown covers every
    reason, so a shift that both drift and live performance see fires once.
    Returns what happened: {"fired": bool, "reason": str}.

    Raises:
        GitHubError: the environment lacks the repository or token, or GitHub refused the call.
    """
    now = time.time() if now is None else now
    if not reasons:
        return {"fired": False, "reason": "no drift, no performance or KPI alert"}
    since = now - _last_fired(state)
    if since < cooldown_hours * 3600:
        return {
            "fired": False,
            "reason": f"cooling down: last trigger {since / 3600:.1f} h ago (< {cooldown_hours} h)",
        }
    # GitHub allows at most 10 top-level client_payload properties: keep to a few.
    payload: dict[str, Any] = {"reason": "; ".join(reasons)[:1000], "reasons": reasons[:10]}
    payload.update(details)
    github = GitHub.from_env()
    try:
        github.dispatch(EVENT_TYPE, payload)
    finally:
        github.close()
    write_json(state, {"fired_at": now, "payload": payload})
    return {"fired": True, "reason": "; ".join(reasons)}
