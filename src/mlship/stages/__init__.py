"""Pipeline stages: one module per DVC stage, each runnable as `python -m mlship.stages.<name>`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from mlship.config import DEFAULT_PARAMS, Params, load_params
from mlship.errors import MlshipError


def stage_parser(name: str, description: str) -> argparse.ArgumentParser:
    """An argument parser with the options every stage shares."""
    parser = argparse.ArgumentParser(prog=f"mlship {name}", description=description)
    parser.add_argument(
        "--params", type=Path, default=DEFAULT_PARAMS, help="params file (default: params.yaml)"
    )
    return parser


def run_main(
    parser: argparse.ArgumentParser,
    run: Callable[[Params, argparse.Namespace], Any],
    argv: Sequence[str] | None = None,
) -> int:
    """Parse arguments, load params and run; an MlshipError becomes a message and an exit code.

    An int that `run` returns is the exit code (a verdict it reported itself, as the gate's
    failing metrics); any other result means success.
    """
    args = parser.parse_args(argv)
    try:
        result = run(load_params(args.params), args)
    except MlshipError as error:
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return error.exit_code
    return result if isinstance(result, int) else 0
