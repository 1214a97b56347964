"""`mlship drift`: compare a current data file with the reference and write the drift reports."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from mlship.config import Params
from mlship.entry import run_main, stage_parser
from mlship.errors import DriftDetected
from mlship.monitoring.check import newest_batch, run_check

DEFAULT_OUT = Path("reports/drift")


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point: exit 0 unless drifted with --fail-on-drift (exit 6)."""
    parser = stage_parser("drift", "Compare current data with the reference; write drift reports.")
    parser.add_argument(
        "--reference",
        type=Path,
        help="reference data (default: the champion's training rows, <split_dir>/train.parquet)",
    )
    parser.add_argument(
        "--current",
        type=Path,
        help="current data (default: the newest file in retrain.batches_dir)",
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"report directory (default: {DEFAULT_OUT})"
    )
    parser.add_argument(
        "--model-dir",
        type=Path,
        help="score both sides for prediction and performance drift (default: paths.model_dir)",
    )
    parser.add_argument("--no-model", action="store_true", help="check the features only")
    parser.add_argument(
        "--fail-on-drift", action="store_true", help=f"exit {DriftDetected.exit_code} on drift"
    )
    return run_main(parser, _run, argv)


def _run(params: Params, args: argparse.Namespace) -> int:
    reference = args.reference or params.paths.split_dir / "train.parquet"
    current = args.current or newest_batch(params.retrain.batches_dir)
    model_dir = None if args.no_model else (args.model_dir or params.paths.model_dir)
    result, paths = run_check(params, reference, current, args.out, model_dir)
    if result.drifted:
        drivers = ", ".join(result.drifted_features) or "joint/prediction/performance only"
        line = f"drift detected in {current} vs {reference}: {drivers}; see {paths['html']}"
    else:
        line = f"no drift in {current} vs {reference}; see {paths['html']}"
    if result.drifted and args.fail_on_drift:
        print(f"mlship drift: error: {line}", file=sys.stderr)
        return DriftDetected.exit_code
    print(f"mlship drift: {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
