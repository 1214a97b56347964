"""Render a retrain decision as markdown: the run summary and the PR or issue body."""

from __future__ import annotations

from pathlib import Path

from mlship.retrain.decision import Decision

_ICONS = {"retrain": "🔁", "skip": "✅", "invalid": "❌"}
_TITLES = {
    "retrain": "Retrain",
    "skip": "No retrain needed",
    "invalid": "Batch rejected by validation",
}


def decision_markdown(decision: Decision) -> str:
    """The run summary and the top of the PR or issue body."""
    icon, title = _ICONS[decision.action], _TITLES[decision.action]
    lines = [f"## {icon} {title} — batch `{decision.month}`", ""]
    if decision.reasons:
        lines += ["**Why retrain:**", ""] + [f"- {r}" for r in decision.reasons] + [""]
    if decision.notes:
        label = "Why not" if decision.action == "skip" else "Notes"
        lines += [f"**{label}:**", ""] + [f"- {n}" for n in decision.notes] + [""]
    lines.append(f"Batch file: `{decision.batch}`; outcome: **{decision.outcome}**.")
    if decision.gate_verdict:
        lines.append(f"Gate verdict vs the champion: **{decision.gate_verdict}**.")
    if decision.registered_version:
        lines.append(f"Registered as challenger: version {decision.registered_version}.")
    return "\n".join(lines) + "\n"


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8") if path.is_file() else ""


def pr_body(decision: Decision, gate_report: Path, drift_report: Path) -> str:
    """The pull request's body: decision, gate report, drift report (each when written)."""
    gate = _read(gate_report)
    drift = _read(drift_report)
    parts = [
        "<!-- mlship retrain -->",
        decision_markdown(decision),
        "### Gate: challenger vs champion\n\n" + (gate or "_no gate report_"),
        "### Drift: batch vs the champion's training data\n\n" + (drift or "_no drift report_"),
        "_Opened by the scheduled retrain workflow; merging it makes this model the next "
        "champion candidate._",
    ]
    return "\n\n".join(parts) + "\n"


def rejected_body(decision: Decision, validation_report: Path) -> str:
    """The issue's body for a batch that failed validation: decision, then every violation."""
    return decision_markdown(decision) + "\n" + _read(validation_report)
