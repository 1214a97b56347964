"""The pre-production checks: readiness, dev/prod parity, a bounded load test, a fuzz pass.

Each check returns a `Check` (its name, whether it passed, one line saying what it saw); the
release stops before production at the first that fails, naming it.
"""

from __future__ import annotations

import shutil
import subprocess  # nosec B404 - schemathesis runs with a fixed argument list
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np


@dataclass(frozen=True)
class Check:
    """One pre-production check's verdict."""

    name: str
    passed: bool
    detail: str

    def line(self) -> str:
        """One printable line."""
        return f"preprod {self.name}: {'pass' if self.passed else 'FAIL'}: {self.detail}"


def readiness(client: httpx.Client, timeout_seconds: float) -> Check:
    """Poll /ready until it answers 200 or the deadline passes."""
    deadline = time.monotonic() + timeout_seconds
    last = "no answer"
    while True:
        try:
            response = client.get("/ready", timeout=5)
            if response.status_code == 200:
                return Check("readiness", True, f"/ready answered 200 ({response.text[:120]})")
            last = f"{response.status_code} {response.text[:200]}"
        except httpx.HTTPError as error:
            last = f"{type(error).__name__}: {error}"
        if time.monotonic() >= deadline:
            return Check(
                "readiness", False, f"/ready not 200 within {timeout_seconds:.0f}s: {last}"
            )
        time.sleep(1)


def served_scores(payload: dict[str, Any], task: str) -> list[list[float]]:
    """The scores the pipeline writes for each item of a batch answer, as rows of floats."""
    items = payload["predictions"]
    if task == "multiclass":
        return [[float(p) for p in item["probabilities"]] for item in items]
    key = "prediction" if task == "regression" else "probability"
    return [[float(item[key])] for item in items]


def parity(
    client: httpx.Client,
    rows: list[dict[str, Any]],
    expected: np.ndarray,
    task: str,
    batch: int,
    tolerance: float,
) -> Check:
    """The service's scores on the held-out rows equal the pipeline's (within `tolerance`)."""
    got: list[list[float]] = []
    for start in range(0, len(rows), batch):
        response = client.post("/predict", json={"records": rows[start : start + batch]})
        if response.status_code != 200:
            return Check(
                "parity", False, f"/predict answered {response.status_code}: {response.text[:200]}"
            )
        got.extend(served_scores(response.json(), task))
    served = np.asarray(got, dtype="float64").reshape(expected.shape)
    gap = np.abs(served - expected)
    worst = float(gap.max()) if gap.size else 0.0
    differing = (
        int((gap > tolerance).any(axis=-1).sum()) if gap.ndim > 1 else int((gap > tolerance).sum())
    )
    detail = (
        f"{len(rows)} held-out rows, {differing} differ from the pipeline's scores by more than "
        f"{tolerance:g} (largest gap {worst:.3g})"
    )
    return Check("parity", differing == 0, detail)


def load(
    client: httpx.Client,
    rows: list[dict[str, Any]],
    requests: int,
    concurrency: int,
    max_error_rate: float,
    p99_ms: float,
) -> Check:
    """`requests` single-record predictions, `concurrency` at a time: errors and p99 in budget."""

    def one(index: int) -> tuple[bool, float]:
        started = time.perf_counter()
        try:
            ok = client.post("/predict", json=rows[index % len(rows)]).status_code == 200
        except httpx.HTTPError:
            ok = False
        return ok, (time.perf_counter() - started) * 1000

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        results = list(pool.map(one, range(requests)))
    errors = sum(1 for ok, _ in results if not ok)
    p99 = float(np.percentile([ms for _, ms in results], 99))
    error_rate = errors / requests
    passed = error_rate <= max_error_rate and p99 <= p99_ms
    detail = (
        f"{requests} requests at concurrency {concurrency}: error rate {error_rate:.2%} "
        f"(budget {max_error_rate:.2%}), p99 {p99:.1f} ms (budget {p99_ms:.0f} ms)"
    )
    return Check("load", passed, detail)


def fuzz(base_url: str, max_examples: int, workdir: Path) -> Check:
    """schemathesis over the service's OpenAPI document: no request may get a server error."""
    found = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    if found is None:
        return Check("fuzz", False, "schemathesis is not installed (the `test` group's lock)")
    command = [
        found,
        "run",
        f"{base_url.rstrip('/')}/openapi.json",
        "--checks",
        "not_a_server_error",
        "--max-examples",
        str(max_examples),
        "--seed",
        "42",
        "--phases",
        "examples,coverage,fuzzing",
        "--generation-database",
        "none",
        "--request-timeout",
        "30",
        "--wait-for-schema",
        "30",
    ]
    result = subprocess.run(  # nosec B603
        command, cwd=workdir, capture_output=True, text=True, timeout=1800, check=False
    )
    output = (result.stdout + result.stderr).strip()
    if result.returncode == 0:
        return Check(
            "fuzz", True, f"schemathesis ({max_examples} examples per operation): no server error"
        )
    tail = " | ".join(output.splitlines()[-8:])
    return Check("fuzz", False, f"schemathesis exit {result.returncode}: {tail[-800:]}")
