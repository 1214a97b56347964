"""The Prometheus and Grafana examples only query metrics the service and the monitor export."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from prometheus_client import generate_latest

from mlship.config import CostMatrixKpi, DriftSettings, MonitorParams
from mlship.monitoring.drift import detect_drift
from mlship.monitoring.live import LiveCheck, ModelTarget, live_performance
from mlship.monitoring.monitor import write_gauges
from mlship.serving.metrics import ServiceMetrics

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "monitoring"
NAME = re.compile(r"\bmlship_[a-z_]+")
SUFFIXES = ("_bucket", "_sum", "_count", "_total", "_created")


def _exported(tmp_path: Path) -> set[str]:
    metrics = ServiceMetrics("binary")
    metrics.requests.labels("champion", "1").inc()
    metrics.errors.labels("champion", "1").inc()
    metrics.latency.labels("champion", "1").observe(0.01)
    metrics.values.labels("champion", "1").observe(0.3)
    text = generate_latest(metrics.registry).decode()
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=200), "c": rng.choice(["a", "b"], 200)})
    result = detect_drift(
        frame,
        frame.assign(x=frame["x"] + 1),
        ["x"],
        ["c"],
        DriftSettings(domain_sample_rows=100),
        reference_pred=rng.random(200),
        current_pred=rng.random(200),
    )
    labelled = pd.DataFrame(
        {
            "ts": np.arange(200.0),
            "delay_s": np.full(200, 60.0),
            "role": "champion",
            "version": "1",
            "prediction": rng.random(200),
            "label": rng.integers(0, 2, 200),
        }
    )
    kpis = {"cost": CostMatrixKpi(kind="cost_matrix", false_positive=1, false_negative=5)}
    perf = live_performance(
        labelled, ModelTarget("binary", (0, 1)), MonitorParams(resamples=100), kpis, now=300.0
    )
    live = LiveCheck(perf, {"roc_auc": 0.8}, ["live roc_auc below training"])
    write_gauges(result, tmp_path / "drift.prom", live)
    text += (tmp_path / "drift.prom").read_text(encoding="utf-8")
    names = set(NAME.findall(text))
    return names | {n.removesuffix(s) for n in names for s in SUFFIXES if n.endswith(s)}


def test_dashboard_and_alerts_query_only_exported_metrics(tmp_path: Path) -> None:
    exported = _exported(tmp_path)
    dashboard = json.loads((EXAMPLES / "grafana-dashboard.json").read_text(encoding="utf-8"))
    queries = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    alerts = yaml.safe_load((EXAMPLES / "mlship-alerts.yml").read_text(encoding="utf-8"))
    queries += [r["expr"] for g in alerts["groups"] for r in g["rules"]]
    used = {name for query in queries for name in NAME.findall(query)}
    assert "mlship_drift_detected" in used and "mlship_predict_latency_seconds_bucket" in used
    live = {
        "mlship_live_metric_high",
        "mlship_training_metric",
        "mlship_kpi",
        "mlship_live_labelled_rows",
    }
    assert live <= used and "mlship_concept_drift_detected" in used
    assert sorted(used - exported) == []


def test_prometheus_example_scrapes_the_service_metrics_path() -> None:
    config = yaml.safe_load((EXAMPLES / "prometheus.yml").read_text(encoding="utf-8"))
    (job,) = config["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    assert job["static_configs"][0]["targets"] == ["127.0.0.1:8000"]
    assert (EXAMPLES / config["rule_files"][0]).is_file()
