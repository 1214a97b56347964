"""`mlship ingest`: the example's monthly data source, a simulated batch per month.

A fork replaces this with its own source (a warehouse query, a bucket listing); what the retrain
loop needs is one file per month in `retrain.batches_dir`, named `<YYYY-MM>.csv`.
"""

from __future__ import annotations

import argparse
import sys
import zlib
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import pandas as pd

from mlship.config import Params
from mlship.data.generate import Drift, generate_churn
from mlship.data.io import write_table
from mlship.entry import run_main, stage_parser
from mlship.retrain.batches import batch_path, check_month

Scenario = Literal["stable", "drifted", "invalid"]
SCENARIOS: tuple[Scenario, ...] = ("stable", "drifted", "invalid")

# Customers moved to pricier plans and log in less, and price matters more to them. (A new
# category would break schema.yaml's allowed values: that is the `invalid` scenario's job.)
DRIFTED = Drift(
    shift={"monthly_charges": 0.8, "days_since_last_login": 0.6},
    charges_effect=2.0,
    extra_missing={"avg_session_minutes": 0.10},
)


def current_month() -> str:
    """This month in UTC, as YYYY-MM."""
    return datetime.now(UTC).strftime("%Y-%m")


def simulate(month: str, scenario: Scenario, rows: int, seed: int) -> pd.DataFrame:
    """The same month, scenario and seed always give the same batch."""
    month_seed = seed + zlib.crc32(month.encode("ascii"))
    # Ids after the example's, one block per month, so a batch never reuses a customer id.
    offset = 10_000_000 + (int(month[:4]) * 12 + int(month[5:])) * 100_000
    drift = DRIFTED if scenario == "drifted" else None
    frame = generate_churn(rows, month_seed, month, 1, drift, id_offset=offset)
    if scenario == "invalid":
        # A broken export: ages in months, a lost label column and a contract code nobody knows.
        frame["age"] = frame["age"] * 12
        frame.loc[frame.index[: rows // 4], "churned"] = pd.NA
        frame.loc[frame.index[-rows // 10 :], "contract"] = "??"
    return frame


def run(params: Params, month: str | None, scenario: Scenario, missing_only: bool = False) -> Path:
    """Write the month's batch (this month by default) into retrain.batches_dir."""
    month = check_month(month or current_month())
    path = batch_path(params, month)
    if missing_only and path.exists():
        print(f"{path} exists; not ingested again")
        return path
    frame = simulate(month, scenario, params.retrain.batch_rows, params.generate.seed)
    write_table(frame, path)
    print(f"ingested {len(frame)} rows ({scenario}) for {month} into {path}")
    return path


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = stage_parser("ingest", "Write the month's data batch (the example simulates it).")
    parser.add_argument("--month", help="YYYY-MM (default: this month, UTC)")
    parser.add_argument(
        "--scenario", choices=SCENARIOS, default="stable", help="simulated batch (default: stable)"
    )
    parser.add_argument(
        "--missing-only", action="store_true", help="keep the month's batch if it exists"
    )

    def _run(params: Params, args: argparse.Namespace) -> Path:
        return run(params, args.month, args.scenario, args.missing_only)

    return run_main(parser, _run, argv)


if __name__ == "__main__":
    sys.exit(main())
