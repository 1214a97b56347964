"""`mlship smoke`: the pull request's training job, the normal pipeline on the PR's data.

It is `dvc repro` after putting the commit's pinned data in place (`mlship data`); the DVC
run-cache makes stages whose inputs did not change free. It needs no MLflow server (the embedded
store is used unless MLFLOW_TRACKING_URI is set).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess  # nosec B404
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from mlship.config import Params
from mlship.data.pinned import keep_pins, pin_files
from mlship.errors import ModelError
from mlship.stages import data, run_main, stage_parser


def run(params: Params) -> float:
    """Put the pinned data in place, run `dvc repro`; return the wall time in seconds."""
    started = time.monotonic()
    data.run(params)
    dvc = shutil.which("dvc")
    if dvc is None:
        raise ModelError("dvc is not on PATH: run `make install` (or activate .venv) first")
    pins = pin_files(Path.cwd())
    # Fixed argument list, no shell; DVC prints each stage's output as it goes.
    result = subprocess.run([dvc, "repro"], check=False)  # nosec B603
    keep_pins(pins)
    if result.returncode != 0:
        raise ModelError(f"`dvc repro` failed (exit {result.returncode}); see its output above")
    seconds = time.monotonic() - started
    print(f"smoke: pipeline done in {seconds:.1f} s")
    return seconds


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = stage_parser("smoke", "Run the pipeline on this branch's data (the PR train job).")

    def _run(params: Params, _: argparse.Namespace) -> float:
        return run(params)

    return run_main(parser, _run, argv)


if __name__ == "__main__":
    sys.exit(main())
