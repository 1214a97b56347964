"""Stage `data`: write the bundled example dataset from the seeded generator."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from mlship.config import Params
from mlship.data.generate import generate_churn
from mlship.data.io import write_table
from mlship.stages import run_main, stage_parser


def run(
    params: Params, out: Path | None = None, rows: int | None = None, missing_only: bool = False
) -> Path:
    """Generate `generate.rows` rows (or `rows`) into `data.path` (or `out`)."""
    settings = params.generate
    target = out or params.data.path
    if missing_only and target.exists():
        print(f"{target} exists; not regenerated")
        return target
    frame = generate_churn(
        rows or settings.rows, settings.seed, settings.start_month, settings.months
    )
    write_table(frame, target)
    print(f"wrote {len(frame)} rows to {target}")
    return target


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = stage_parser("data", "Write the example churn dataset (byte-for-byte reproducible).")
    parser.add_argument("--out", type=Path, help="write here instead of data.path")
    parser.add_argument("--rows", type=int, help="rows to generate instead of generate.rows")
    parser.add_argument(
        "--missing-only", action="store_true", help="do nothing if the file already exists"
    )

    def _run(params: Params, args: argparse.Namespace) -> Path:
        return run(params, args.out, args.rows, args.missing_only)

    return run_main(parser, _run, argv)


if __name__ == "__main__":
    sys.exit(main())
