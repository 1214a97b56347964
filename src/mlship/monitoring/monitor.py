"""`mlship monitor`: drift of recorded live traffic against the champion's training rows.

It reads the newest `--window` rows the service recorded (MLSHIP_RECORD_*), compares them with
the training rows (features, and the champion's scores on them against the recorded
predictions), writes the drift reports, and writes Prometheus gauges to `<records>/drift.prom`,
which the service appends to its own /metrics: one scrape target, no extra port. With
`--trigger` a drifted window sends a `repository_dispatch` (type `retrain`) to GitHub.

When labels have arrived (`POST /feedback`, `mlship feedback ingest`), it also joins them to the
recorded predictions and computes live performance and the KPIs (live.json, live.md, live.html
and `mlship_live_*` / `mlship_kpi*` gauges); a live figure worse than the training one beyond
`monitor.performance_margin`, or a KPI beyond its alert threshold, triggers the same retrain.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from prometheus_client import CollectorRegistry, Gauge, write_to_textfile

from mlship.config import Params
from mlship.data.io import read_table
from mlship.entry import run_main, stage_parser
from mlship.errors import DataError
from mlship.monitoring.check import prepare, score_frames
from mlship.monitoring.drift import detect_drift
from mlship.monitoring.drift_report import write_reports
from mlship.monitoring.live import LiveCheck
from mlship.monitoring.live_check import live_check
from mlship.monitoring.live_report import add_live_gauges, write_live_reports
from mlship.monitoring.recorder import GAUGES, PREDICTION, read_recent
from mlship.monitoring.results import DriftResult
from mlship.monitoring.trigger import drift_reasons, fire_retrain
from mlship.settings import RecordSettings, read_settings


@dataclass(frozen=True)
class MonitorResult:
    """One monitor run: drift of the inputs, and live performance when labels exist."""

    drift: DriftResult
    live: LiveCheck | None

    def retrain_reasons(self) -> tuple[list[str], dict[str, Any]]:
        """(why to retrain, payload details): data drift, then concept drift and KPI alerts."""
        reasons, details = drift_reasons(self.drift)
        if self.live is not None:
            reasons += self.live.reasons
            details["labelled_rows"] = self.live.labelled_rows()
        return reasons, details


def monitor_once(
    params: Params, records: Path, window: int, out: Path, role: str = "champion"
) -> MonitorResult:
    """Check the newest `window` recorded rows of `role` and the labels; write reports, gauges."""
    recorded = read_recent(records, window * 4)
    if not recorded.empty and "role" in recorded.columns:
        recorded = recorded[recorded["role"] == role]
    recorded = recorded.tail(window)
    if len(recorded) < 50:
        raise DataError(f"{records}: {len(recorded)} recorded {role} rows; need at least 50")
    missing = [c for c in params.data.features if c not in recorded.columns]
    if missing:
        raise DataError(f"{records}: recorded rows lack feature(s) {missing}")
    reference = prepare(read_table(params.paths.split_dir / "train.parquet"), params)
    current = prepare(recorded[params.data.features], params)
    extra: dict[str, Any] = {}
    model_dir = params.paths.model_dir
    if PREDICTION in recorded.columns and (model_dir / "model.skops").is_file():
        scored = score_frames(params, model_dir, reference, current)
        extra = {
            "reference_pred": scored.reference,
            "current_pred": recorded[PREDICTION].to_numpy(dtype=np.float64),
        }
    data = params.data
    result = detect_drift(
        reference, current, list(data.numeric), list(data.categorical), params.drift, **extra
    )
    write_reports(result, reference, current, out)
    live = live_check(params, records)
    if live is not None:
        write_live_reports(live.performance, live.training, live.reasons, out)
    write_gauges(result, records / GAUGES, live)
    return MonitorResult(result, live)


def write_gauges(result: DriftResult, path: Path, live: LiveCheck | None = None) -> None:
    """Write the drift (and live performance) gauges in Prometheus' text format, atomically."""
    registry = CollectorRegistry()
    Gauge("mlship_drift_detected", "1 when the last window drifted", registry=registry).set(
        int(result.drifted)
    )
    Gauge(
        "mlship_drift_features_drifted",
        "Features that drifted in the last window",
        registry=registry,
    ).set(len(result.drifted_features))
    Gauge("mlship_drift_window_rows", "Rows in the last window", registry=registry).set(
        result.n_current
    )
    Gauge(
        "mlship_drift_last_run_timestamp_seconds", "When the monitor last ran", registry=registry
    ).set(time.time())
    effect = Gauge(
        "mlship_drift_feature_effect",
        "KS D (numeric) or total variation (categorical) per feature",
        ["feature"],
        registry=registry,
    )
    psi = Gauge("mlship_drift_feature_psi", "PSI per feature", ["feature"], registry=registry)
    flag = Gauge(
        "mlship_drift_feature_drifted", "1 when the feature drifted", ["feature"], registry=registry
    )
    for column in result.columns:
        effect.labels(column.name).set(column.effect)
        psi.labels(column.name).set(column.psi)
        flag.labels(column.name).set(int(column.drifted))
    if result.domain is not None:
        Gauge("mlship_drift_domain_auc", "Domain classifier ROC AUC", registry=registry).set(
            result.domain.auc
        )
    if result.prediction is not None:
        Gauge(
            "mlship_drift_prediction_psi", "PSI of predictions vs training", registry=registry
        ).set(result.prediction.psi)
    if live is not None:
        add_live_gauges(registry, live.performance, live.training, live.reasons)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_to_textfile(str(path), registry)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point: exit 0 (drift is reported, not an error) unless it fails."""
    parser = stage_parser("monitor", "Drift of recorded live traffic vs the training data.")
    parser.add_argument(
        "--records", type=Path, help="recorded rows (default: MLSHIP_RECORD_DIR or its default)"
    )
    parser.add_argument("--window", type=int, default=5_000, help="newest rows to check")
    parser.add_argument("--out", type=Path, default=Path("reports/monitor"), help="report dir")
    parser.add_argument(
        "--trigger",
        action="store_true",
        help="dispatch a retrain on drift, concept drift or a KPI alert",
    )
    parser.add_argument(
        "--cooldown-hours", type=float, default=24.0, help="at most one trigger per this long"
    )
    parser.add_argument("--every", type=float, help="repeat every this many seconds")
    parser.add_argument("--times", type=int, default=1, help="runs when repeating (bounded)")

    def _run(params: Params, args: argparse.Namespace) -> None:
        records = args.records or read_settings(RecordSettings).dir
        for run in range(max(1, args.times)):
            if run and args.every:
                time.sleep(args.every)
            checked = monitor_once(params, records, args.window, args.out)
            result = checked.drift
            drivers = ", ".join(result.drifted_features) or "none"
            state = "drift" if result.drifted else "no drift"
            print(f"{parser.prog}: {state} in {result.n_current} rows (features: {drivers})")
            if checked.live is not None:
                verdict = "; ".join(checked.live.reasons) or "within bounds"
                print(
                    f"{parser.prog}: live performance on {checked.live.labelled_rows()} "
                    f"labelled rows: {verdict}"
                )
            if args.trigger:
                reasons, details = checked.retrain_reasons()
                fired = fire_retrain(
                    reasons, details, records / "trigger.json", args.cooldown_hours
                )
                verb = "retrain triggered" if fired["fired"] else "no trigger"
                print(f"{parser.prog}: {verb} ({fired['reason']})")

    return run_main(parser, _run, argv)


if __name__ == "__main__":
    sys.exit(main())
