"""Helpers for registry tests: log evaluated runs, start PostgreSQL."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
from live_process import free_port

from mlship.config import Params
from mlship.tracking import log_run


def log_runs(root: Path, params: Params, count: int, auc: float = 0.70) -> list[str]:
    """Log `count` MLflow runs of the project's trained model, AUC `auc` + 0.01 per run."""
    tracked = params.model_copy(
        update={"tracking": params.tracking.model_copy(update={"enabled": True})}
    )
    model_dir = root / params.paths.model_dir
    meta: dict[str, Any] = json.loads((model_dir / "model.json").read_text(encoding="utf-8"))
    example = pd.DataFrame(meta["input_example"])
    metrics = json.loads((root / params.paths.metrics).read_text(encoding="utf-8"))
    run_ids = []
    for index in range(count):
        varied = {**metrics, "roc_auc": round(auc + index / 100, 4)}
        with warnings.catch_warnings():
            # Setup only: MLflow's model logging warns about pandas 3 and type hints.
            warnings.simplefilter("ignore")
            run_id = log_run(
                tracked,
                varied,
                model_dir / "model.skops",
                meta,
                example,
                root / params.paths.plots_dir,
            )
        run_ids.append(run_id)
    return run_ids


def _pg_bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    for directory in versions:
        if (directory / name).exists():
            return str(directory / name)
    raise FileNotFoundError(name)


def ensure_postgres_installed() -> None:
    """Install the Debian PostgreSQL server when missing; fail loudly when that is impossible."""
    try:
        _pg_bin("initdb")
        _pg_bin("pg_ctl")
        return
    except FileNotFoundError:
        pass
    steps = [["apt-get", "update"], ["apt-get", "install", "-y", "postgresql"]]
    for step in steps:
        result = subprocess.run(
            step,
            capture_output=True,
            text=True,
            check=False,
            timeout=900,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
        if result.returncode != 0:
            raise AssertionError(
                f"PostgreSQL is needed for this test and `{' '.join(step)}` failed "
                f"(exit {result.returncode}):\n{result.stderr[-2000:]}"
            )


def _as_postgres(command: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


@contextmanager
def postgres_cluster() -> Iterator[str]:
    """A throwaway PostgreSQL cluster on a free loopback port; yield a SQLAlchemy URI."""
    ensure_postgres_installed()
    # Outside pytest's private tmp: the postgres user must be able to enter the directory.
    base = Path(tempfile.mkdtemp(prefix="mlship-pg-"))
    data = base / "data"
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
    port = free_port()
    run = {"check": True, "capture_output": True, "timeout": 120}
    subprocess.run(
        _as_postgres([_pg_bin("initdb"), "-D", str(data), "-U", "postgres", "--auth=trust"]),
        **run,  # type: ignore[call-overload]
    )
    options = f"-p {port} -k {base} -c listen_addresses=127.0.0.1"
    start = [_pg_bin("pg_ctl"), "-D", str(data), "-o", options, "-l", str(base / "pg.log")]
    subprocess.run(_as_postgres([*start, "-w", "start"]), **run)  # type: ignore[call-overload]
    try:
        subprocess.run(
            _as_postgres(
                [
                    _pg_bin("createdb"),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(port),
                    "-U",
                    "postgres",
                    "mlflow",
                ]
            ),
            **run,  # type: ignore[call-overload]
        )
        yield f"postgresql+psycopg2://postgres@127.0.0.1:{port}/mlflow"
    finally:
        subprocess.run(
            _as_postgres([_pg_bin("pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]),
            check=False,
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(base, ignore_errors=True)
