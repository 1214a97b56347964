"""Helpers shared by the serving tests: JSON records from frames, a live `mlship serve`."""

from __future__ import annotations

import json
import math
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pandas as pd


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


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def live_service(env: dict[str, str], cwd: Path, timeout: float = 60.0) -> Iterator[str]:
    """Run `mlship serve` in a subprocess on a free loopback port; yield its base URL."""
    port = free_port()
    full_env = {**os.environ, **env, "MLSHIP_HOST": "127.0.0.1", "MLSHIP_PORT": str(port)}
    command = [sys.executable, "-m", "mlship.cli", "serve", "--log-level", "warning"]
    log = cwd / f"serve-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(  # pylint: disable=consider-using-with
            command, cwd=cwd, env=full_env, stdout=out, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise AssertionError(f"mlship serve exited: {log.read_text(errors='replace')}")
            try:
                if httpx.get(f"{url}/ready", timeout=1.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"mlship serve not ready: {log.read_text(errors='replace')}")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
