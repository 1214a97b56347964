"""Render live performance: live.json, live.md, live.html beside the drift report, and gauges."""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path

from prometheus_client import CollectorRegistry, Gauge

from mlship.files import json_safe, write_json, write_text
from mlship.monitoring.live import ALL_DELAYS, Estimate, LivePerformance

HEADER = [
    "version",
    "role",
    "label delay",
    "labelled rows",
    "figure",
    "live",
    "interval",
    "training",
]


def _fmt(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.4f}"


def _rows(perf: LivePerformance, training: Mapping[str, float]) -> list[list[str]]:
    out = []
    for part in perf.slices:
        figures: list[tuple[str, Estimate]] = [("metric", m) for m in part.metrics]
        figures += [("KPI", k) for k in part.kpis]
        for kind, figure in figures:
            reference = training.get(figure.name) if kind == "metric" else None
            out.append(
                [
                    part.version,
                    part.role,
                    part.delay,
                    str(part.n),
                    f"{figure.name}" + (" (KPI)" if kind == "KPI" else ""),
                    _fmt(figure.value),
                    f"[{_fmt(figure.low)}, {_fmt(figure.high)}]",
                    "—" if reference is None else _fmt(reference),
                ]
            )
    return out


def _summary(perf: LivePerformance, reasons: list[str]) -> list[str]:
    lines = [
        "**Concept drift: retrain advised**" if reasons else "**Live performance within bounds**",
        *[f"- {reason}" for reason in reasons],
        f"Labels not used: {perf.invalid_labels} that cannot be cast to the target type, "
        f"{perf.unknown} with unknown ids, {perf.expired} expired, {perf.duplicates} duplicates.",
    ]
    return lines


def to_markdown(perf: LivePerformance, training: Mapping[str, float], reasons: list[str]) -> str:
    """The report as markdown: verdict, then one row per figure, training figure beside it."""
    lines = ["### Live performance", "", *_summary(perf, reasons), ""]
    if not perf.slices:
        return "\n".join([*lines, "No labelled predictions yet.", ""])
    lines += ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(row) + " |" for row in _rows(perf, training)]
    return "\n".join([*lines, ""])


def to_html(perf: LivePerformance, training: Mapping[str, float], reasons: list[str]) -> str:
    """The same report as a standalone HTML page."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in HEADER)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>"
        for row in _rows(perf, training)
    )
    summary = "".join(
        f"<p>{html.escape(line.strip('*- '))}</p>" for line in _summary(perf, reasons)
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        "<title>mlship live performance</title></head><body>"
        f"<h1>Live performance</h1>{summary}<table><tr>{head}</tr>{body}</table>"
        "\n</body></html>\n"
    )


def write_live_reports(
    perf: LivePerformance, training: Mapping[str, float], reasons: list[str], out: Path
) -> dict[str, Path]:
    """Write live.json, live.md and live.html into `out` (each atomically); return the paths."""
    paths = {"json": out / "live.json", "markdown": out / "live.md", "html": out / "live.html"}
    record = {**asdict(perf), "training": dict(training), "reasons": reasons}
    write_json(paths["json"], json_safe(record))
    write_text(paths["markdown"], to_markdown(perf, training, reasons))
    write_text(paths["html"], to_html(perf, training, reasons))
    return paths


def add_live_gauges(
    registry: CollectorRegistry,
    perf: LivePerformance,
    training: Mapping[str, float],
    reasons: list[str],
) -> None:
    """Register the live performance gauges (the monitor writes them into drift.prom)."""
    labels = ["metric", "version", "role", "delay"]
    value = Gauge("mlship_live_metric", "Live metric on labelled rows", labels, registry=registry)
    low = Gauge("mlship_live_metric_low", "Bootstrap interval low", labels, registry=registry)
    high = Gauge("mlship_live_metric_high", "Bootstrap interval high", labels, registry=registry)
    kpi_labels = ["kpi", "version", "role", "delay"]
    kpi = Gauge("mlship_kpi", "Business KPI on labelled rows", kpi_labels, registry=registry)
    kpi_low = Gauge("mlship_kpi_low", "KPI interval low", kpi_labels, registry=registry)
    kpi_high = Gauge("mlship_kpi_high", "KPI interval high", kpi_labels, registry=registry)
    rows = Gauge(
        "mlship_live_labelled_rows",
        "Labelled rows behind the live figures",
        ["version", "role", "delay"],
        registry=registry,
    )
    for part in perf.slices:
        key = (part.version, part.role, part.delay)
        rows.labels(*key).set(part.n)
        for metric in part.metrics:
            value.labels(metric.name, *key).set(metric.value)
            low.labels(metric.name, *key).set(metric.low)
            high.labels(metric.name, *key).set(metric.high)
        for figure in part.kpis:
            kpi.labels(figure.name, *key).set(figure.value)
            kpi_low.labels(figure.name, *key).set(figure.low)
            kpi_high.labels(figure.name, *key).set(figure.high)
    trained = Gauge(
        "mlship_training_metric",
        "The served model's metric on held-out rows at training",
        ["metric"],
        registry=registry,
    )
    shown = {m.name for part in perf.slices if part.delay == ALL_DELAYS for m in part.metrics}
    for name in sorted(shown & set(training)):
        trained.labels(name).set(training[name])
    unused = Gauge(
        "mlship_feedback_labels_unused",
        "Labels the last join could not use, by why",
        ["why"],
        registry=registry,
    )
    for why, count in (
        ("invalid", perf.invalid_labels),
        ("unknown", perf.unknown),
        ("expired", perf.expired),
        ("duplicate", perf.duplicates),
    ):
        unused.labels(why).set(count)
    Gauge(
        "mlship_concept_drift_detected",
        "1 when live performance or a KPI calls for a retrain",
        registry=registry,
    ).set(int(bool(reasons)))
