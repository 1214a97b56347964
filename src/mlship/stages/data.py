"""`mlship data`: put in place exactly the data this commit pins, or fail saying why.

The bytes `data.dvc` (the `.dvc` file tracking `data.path`) records are restored from the DVC
cache or pulled from the DVC remote; the bundled example is regenerated only when its bytes hash
to the pin. `--example --out FILE` writes the example generator's output instead (for tests and
benchmarks); no make target substitutes it for missing data.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from mlship.config import Params
from mlship.data.generate import generate_churn
from mlship.data.io import write_table
from mlship.data.pinned import materialise
from mlship.entry import run_main, stage_parser


def write_example(params: Params, out: Path | None = None, rows: int | None = None) -> Path:
    """Generate `generate.rows` rows (or `rows`) of the example into `data.path` (or `out`)."""
    settings = params.generate
    target = out or params.data.path
    frame = generate_churn(
        rows or settings.rows, settings.seed, settings.start_month, settings.months
    )
    write_table(frame, target)
    return target


def run(params: Params, root: Path | None = None) -> str:
    """Make `data.path` hold the pinned bytes; return how they got there."""
    message = materialise(
        params.data.path, root or Path.cwd(), lambda path: write_example(params, path)
    )
    print(message)
    return message


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = stage_parser("data", "Put in place the data this commit's .dvc file pins.")
    parser.add_argument(
        "--example", action="store_true", help="write the example generator's rows instead"
    )
    parser.add_argument("--out", type=Path, help="with --example: write here, not data.path")
    parser.add_argument("--rows", type=int, help="with --example: rows instead of generate.rows")

    def _run(params: Params, args: argparse.Namespace) -> object:
        if args.example:
            # Said here, not in write_example: `mlship data` regenerates the example into a
            # temporary file first, and that path tells a user nothing.
            written = write_example(params, args.out, args.rows)
            print(f"wrote {args.rows or params.generate.rows} rows to {written}")
            return written
        if args.out or args.rows:
            parser.error("--out and --rows go with --example")
        return run(params)

    return run_main(parser, _run, argv)


if __name__ == "__main__":
    sys.exit(main())
