"""Helpers for registry tests: log evaluated runs, give a test an empty PostgreSQL database."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import uuid
import warnings
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy
import tiers
from live_process import free_port
from path_import import import_file

from mlship.config import Params
from mlship.tracking import log_run

system_deps = import_file(
    "mlship_system_deps", Path(__file__).resolve().parents[2] / "tools" / "system_deps.py"
)


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


POSTGRES_URL_ENV = "MLSHIP_POSTGRES_URL"


def _pg_bin(name: str) -> str:
    found: str | None = system_deps.postgres_bin(name)
    if found is None:
        raise AssertionError(
            f"PostgreSQL's {name} is not installed: run `{system_deps.MAKE_TARGET}` (Debian's "
            f"postgresql), or set {POSTGRES_URL_ENV} to a server (GitHub: the postgres service)"
        )
    return found


def _as_postgres(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: there, run it as Debian's `postgres` user."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


@contextmanager
def postgres_cluster() -> Iterator[str]:
    """A throwaway PostgreSQL cluster on a free loopback port; yield its server's URI."""
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    # Outside pytest's private tmp: the postgres user must be able to enter the directory.
    base = Path(tempfile.mkdtemp(prefix="mlship-pg-"))
    data = base / "data"
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
    port = free_port()
    run = {"check": True, "capture_output": True, "timeout": 120}
    subprocess.run(
        _as_postgres([initdb, "-D", str(data), "-U", "postgres", "--auth=trust"]),
        **run,  # type: ignore[call-overload]
    )
    options = f"-p {port} -k {base} -c listen_addresses=127.0.0.1"
    start = [pg_ctl, "-D", str(data), "-o", options, "-l", str(base / "pg.log")]
    subprocess.run(_as_postgres([*start, "-w", "start"]), **run)  # type: ignore[call-overload]
    try:
        yield f"postgresql+psycopg2://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            _as_postgres([pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"]),
            check=False,
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(base, ignore_errors=True)


@contextmanager
def fresh_database(server: str) -> Iterator[str]:
    """Create an empty database on the server `server` names; yield its URI; drop it after."""
    url = sqlalchemy.engine.make_url(server)
    name = f"mlship_test_{uuid.uuid4().hex[:12]}"
    engine = sqlalchemy.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


@contextmanager
def postgres_database() -> Iterator[str]:
    """An empty PostgreSQL database for one test; yield its SQLAlchemy URI.

    MLSHIP_POSTGRES_URL, an SQLAlchemy URL with the installed driver
    (`postgresql+psycopg2://user@host:port/db`), names the server to create it on (on GitHub
    the workflow's `services: postgres` container); without it the test starts a throwaway
    cluster from the server programs `make system-deps` installed, as the current user
    (`postgres` under root).
    """
    tiers.require_system("a PostgreSQL server")
    server = os.environ.get(POSTGRES_URL_ENV)
    with ExitStack() as stack:
        server = server or stack.enter_context(postgres_cluster())
        yield stack.enter_context(fresh_database(server))
