"""`mlship gate`: judge the pull request's model against main's baseline; exit 5 on fail."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from mlship.config import Params
from mlship.entry import run_main, stage_parser
from mlship.errors import GateFailed
from mlship.gate.compare import run


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point: one stderr line per failing metric, exit 5 on fail."""
    parser = stage_parser("gate", "Compare the pull request's model with main's baseline.")

    def _run(params: Params, _: argparse.Namespace) -> int:
        result = run(params)
        for note in result.notes:
            print(f"{parser.prog}: {note}")
        if result.verdict == "fail":
            for line in result.failure_lines():
                print(f"{parser.prog}: {line}", file=sys.stderr)
            return GateFailed.exit_code
        gated = ", ".join(f"{m.name} {m.verdict}" for m in result.metrics)
        print(f"{parser.prog}: pass ({gated}); see {params.gate.out_dir / 'gate.md'}")
        return 0

    return run_main(parser, _run, argv)


if __name__ == "__main__":
    sys.exit(main())
