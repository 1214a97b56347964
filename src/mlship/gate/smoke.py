"""`mlship smoke`: the pull request's training job, the normal pipeline on the PR's data.

It is `dvc repro` after putting the commit's pinned data in place (`mlship data`); the DVC
run-cache makes stages whose inputs did not change free. It needs no MLflow server (the embedded
store is used unless MLFLOW_TRACKING_URI is set).
"""

from __future__ import annotations

import re
import shutil
import subprocess  # nosec B404
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from mlship.config import Params
from mlship.data.pinned import keep_pins, pin_files
from mlship.entry import run_stage
from mlship.errors import MlshipError, ModelError
from mlship.files import write_json
from mlship.stages import data

# The first error of a failed run, for the PR comment (the report step reads it).
SMOKE_ERROR = Path("reports/smoke/error.json")
# Most telling first: a stage's own message, a traceback's exception line, DVC's error.
_ERROR_LINES = (
    re.compile(r"^mlship \w+: error: .+"),
    re.compile(r"^(\w+\.)*\w*(Error|Exception|Interrupt)\b.*"),
    re.compile(r"^ERROR: .+"),
)


def first_error(lines: Sequence[str]) -> str | None:
    """The line that says why a run failed: the last of the most telling kind found."""
    for pattern in _ERROR_LINES:
        found = [line.strip() for line in lines if pattern.match(line.strip())]
        if found:
            return found[-1]
    return None


def _repro(dvc: str) -> tuple[int, list[str]]:
    """`dvc repro`, its output shown as it comes and kept."""
    kept: list[str] = []
    # Fixed argument list, no shell.
    with subprocess.Popen(  # nosec B603
        [dvc, "repro"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as process:
        assert process.stdout is not None  # nosec B101
        for line in process.stdout:
            print(line, end="", flush=True)
            kept.append(line)
    return process.returncode, kept


def run(params: Params) -> float:
    """Put the pinned data in place, run `dvc repro`; return the wall time in seconds."""
    started = time.monotonic()
    SMOKE_ERROR.unlink(missing_ok=True)
    try:
        data.run(params)
        dvc = shutil.which("dvc")
        if dvc is None:
            raise ModelError("dvc is not on PATH: run `make install` (or activate .venv) first")
        pins = pin_files(Path.cwd())
        code, output = _repro(dvc)
        keep_pins(pins)
        if code != 0:
            raise ModelError(
                f"`dvc repro` failed (exit {code}): {first_error(output) or 'see its output above'}"
            )
    except MlshipError as error:
        write_json(SMOKE_ERROR, {"error": str(error)})
        raise
    seconds = time.monotonic() - started
    print(f"smoke: pipeline done in {seconds:.1f} s")
    return seconds


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    return run_stage(
        "smoke", "Run the pipeline on this branch's data (the PR train job).", run, argv
    )


if __name__ == "__main__":
    sys.exit(main())
