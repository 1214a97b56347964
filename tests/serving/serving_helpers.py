"""Helpers shared by the serving tests: JSON records from frames, a live `mlship serve`."""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
from live_process import ExitedEarly, free_port, live_process

from mlship.errors import ExitCode


def records(frame: pd.DataFrame, columns: list[str]) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts, missing values as None."""
    out = []
    for row in frame[columns].to_dict(orient="records"):
        out.append(
            {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in row.items()}
        )
    return out


def model_columns(model_dir: Path) -> list[str]:
    """Feature columns in model order."""
    meta = json.loads((model_dir / "model.json").read_text(encoding="utf-8"))
    return [*meta["numeric"], *meta["categorical"]]


def copy_model(model_dir: Path, target: Path, **meta_changes: Any) -> Path:
    """A copy of a model directory, optionally with changed metadata."""
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(model_dir / "model.skops", target / "model.skops")
    meta = json.loads((model_dir / "model.json").read_text(encoding="utf-8"))
    meta.update(meta_changes)
    (target / "model.json").write_text(json.dumps(meta), encoding="utf-8")
    return target


# free_port() only says a port was free a moment ago: a server started at the same time (the
# other pytest-xdist worker's, another user's) may take it first. `mlship serve` then exits with
# ADDRESS_IN_USE, and the next try gets another port.
PORT_TRIES = 3


@contextmanager
def live_service(env: dict[str, str], cwd: Path, timeout: float = 120.0) -> Iterator[str]:
    """Run `mlship serve` in a subprocess on a free loopback port; yield its base URL.

    `timeout` bounds the wait for readiness only: on a loaded machine (the fast tier's workers
    share its cores) starting Python, scikit-learn and the model can take over a minute.
    """
    command = [sys.executable, "-m", "mlship.cli", "serve", "--log-level", "warning"]
    with ExitStack() as stack:
        for tries_left in reversed(range(PORT_TRIES)):
            port = free_port()
            full_env = {**os.environ, **env, "MLSHIP_HOST": "127.0.0.1", "MLSHIP_PORT": str(port)}
            url = f"http://127.0.0.1:{port}"
            try:
                stack.enter_context(
                    live_process(
                        command,
                        ready_url=f"{url}/ready",
                        log=cwd / f"serve-{port}.log",
                        cwd=cwd,
                        env=full_env,
                        timeout=timeout,
                    )
                )
            except ExitedEarly as early:
                if early.returncode == ExitCode.ADDRESS_IN_USE and tries_left:
                    continue
                raise
            yield url
            return
