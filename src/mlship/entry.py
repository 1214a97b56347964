"""What every command's `main()` shares: the `--params` option and the one error wrapper.

A command builds its parser (`stage_parser`), then hands its `run` to `run_main`, which loads the
params and turns an MlshipError into one stderr line and the error's exit code. A command whose
`run` needs nothing but the params calls `run_stage` and has no wrapper of its own.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from mlship.config import DEFAULT_PARAMS, Params, load_params
from mlship.errors import MlshipError


def stage_parser(name: str, description: str) -> argparse.ArgumentParser:
    """An argument parser with the options every command shares."""
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
    return run_command(parser, lambda args: run(load_params(args.params), args), argv)


def run_command(
    parser: argparse.ArgumentParser,
    run: Callable[[argparse.Namespace], Any],
    argv: Sequence[str] | None = None,
) -> int:
    """`run_main` for a command that needs no params (its parser need not be a stage_parser)."""
    args = parser.parse_args(argv)
    try:
        result = run(args)
    except MlshipError as error:
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return error.exit_code
    return result if isinstance(result, int) else 0


def run_stage(
    name: str,
    description: str,
    run: Callable[[Params], Any],
    argv: Sequence[str] | None = None,
) -> int:
    """`run_main` for a command whose only option is `--params` and whose `run` takes params."""
    return run_main(stage_parser(name, description), lambda params, _: run(params), argv)
