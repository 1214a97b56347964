"""Serving benchmark: `mlship serve` vs `mlflow models serve` vs a bare FastAPI app, same model.

Single-row throughput and p50/p99 latency at concurrency 1, 16 and 64, and a 1,000-row batch,
measured with a lean in-process asyncio HTTP/1.1 load generator on loopback, each
scenario for a fixed time.
Prints a table and the ratios the project aims for:
  c=64: mlship >= 20x mlflow's single-row throughput, with p99 < 100 ms
  c=1:  mlship p50 within 1.2x of the bare app

Usage: python benchmarks/bench_serve.py [--model-dir artifacts/model] [--quick] [--out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pandas as pd

BARE_APP = """
import json, os
import pandas as pd
from fastapi import FastAPI
from threadpoolctl import threadpool_limits
from mlship.model.artifact import load_model

threadpool_limits(1)
MODEL_DIR = os.environ["BENCH_MODEL_DIR"]
META = json.load(open(os.path.join(MODEL_DIR, "model.json")))
PIPELINE = load_model(__import__("pathlib").Path(MODEL_DIR) / "model.skops", META["trusted_types"])
COLUMNS = META["numeric"] + META["categorical"]
app = FastAPI()

@app.post("/predict")
def predict(record: dict) -> dict:
    frame = pd.DataFrame([record], columns=COLUMNS)
    return {"probability": float(PIPELINE.predict_proba(frame)[0, 1])}
"""


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def server(command: list[str], env: dict[str, str], ready_path: str, cwd: Path) -> Iterator[str]:
    """Start a server subprocess on a free loopback port; yield its URL; stop it."""
    port = free_port()
    # `mlflow models serve` execs `uvicorn` by name: put this interpreter's bin first on PATH.
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    full = {**os.environ, "OMP_NUM_THREADS": "1", **env, "PORT": str(port), "PATH": path}
    argv = [part.replace("{port}", str(port)) for part in command]
    log = cwd / f"server-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(  # pylint: disable=consider-using-with
            argv, env=full, cwd=cwd, stdout=out, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while True:
            if process.poll() is not None:
                raise SystemExit(f"server exited: {' '.join(argv)}\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(url + ready_path, timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"server not ready: {' '.join(argv)}\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield url
        if process.poll() is not None:
            raise SystemExit(f"server died under load:\n{log.read_text()[-3000:]}")
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


class _Connection:
    """One keep-alive HTTP/1.1 connection that sends pre-encoded requests.

    A lean client on purpose: on a 2-core machine httpx spends more CPU per request than the
    server under test, so the figures would measure the client.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, url: str) -> _Connection:
        """Connect to `http://host:port`."""
        host, port = url.removeprefix("http://").split(":")
        return cls(*await asyncio.open_connection(host, int(port)))

    async def send(self, raw: bytes) -> int:
        """Send one request, read the whole response, return its status."""
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.lower().split(b"\r\n"):
            if line.startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        await self.reader.readexactly(length)
        return int(head[9:12])

    def close(self) -> None:
        """Close the socket."""
        self.writer.close()


def encode(url: str, path: str, body: dict[str, Any]) -> bytes:
    """A complete POST request with a JSON body, as bytes."""
    content = json.dumps(body).encode()
    host = url.removeprefix("http://")
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(content)}\r\n\r\n"
    )
    return head.encode() + content


async def load(
    url: str,
    path: str,
    bodies: list[dict[str, Any]],
    concurrency: int,
    total: int,
    seconds: float,
) -> dict[str, float]:
    """Send up to `total` requests (or for `seconds`) with `concurrency` in flight."""
    latencies: list[float] = []
    errors = 0
    counter = iter(range(total))
    requests = [encode(url, path, body) for body in bodies]
    connections = [await _Connection.open(url) for _ in range(concurrency)]
    for connection in connections:  # warm every connection and the model up
        await connection.send(requests[0])
    start = time.perf_counter()
    stop = start + seconds

    async def worker(connection: _Connection) -> None:
        nonlocal errors
        for index in counter:
            if time.perf_counter() > stop:
                return
            began = time.perf_counter()
            try:
                status = await connection.send(requests[index % len(requests)])
            except (OSError, asyncio.IncompleteReadError):
                errors += 1
                return
            if status != 200:
                errors += 1
                continue
            latencies.append(time.perf_counter() - began)

    await asyncio.gather(*(worker(connection) for connection in connections))
    elapsed = time.perf_counter() - start
    for connection in connections:
        connection.close()
    ordered = sorted(latencies) or [float("nan")]
    return {
        "requests": len(latencies),
        "errors": errors,
        "rps": len(latencies) / elapsed,
        "p50_ms": 1000 * statistics.median(ordered),
        "p99_ms": 1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))],
    }


def mlflow_model(model_dir: Path, meta: dict[str, Any], example: pd.DataFrame, out: Path) -> Path:
    """The same pipeline in MLflow's format (skops, predict_proba), as the pipeline logs it."""
    # pylint: disable=import-outside-toplevel
    import mlflow.sklearn
    from mlflow.models import infer_signature

    from mlship.model.artifact import load_model

    pipeline = load_model(model_dir / "model.skops", meta["trusted_types"])
    target = out / "mlflow-model"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlflow.sklearn.save_model(
            pipeline,
            str(target),
            signature=infer_signature(example, pipeline.predict_proba(example)),
            input_example=example.head(2),
            serialization_format="skops",
            skops_trusted_types=meta["trusted_types"],
            pyfunc_predict_fn="predict_proba",
        )
    return target


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, default=Path("artifacts/model"))
    parser.add_argument("--holdout", type=Path, default=Path("artifacts/split/test.parquet"))
    parser.add_argument("--quick", action="store_true", help="fewer requests (smoke run)")
    parser.add_argument("--out", type=Path, help="also write the figures as JSON")
    args = parser.parse_args(argv)
    model_dir = args.model_dir.resolve()
    meta = json.loads((model_dir / "model.json").read_text(encoding="utf-8"))
    columns = [*meta["numeric"], *meta["categorical"]]
    frame = pd.read_parquet(args.holdout)[columns].head(1000)
    rows = json.loads(frame.to_json(orient="records"))  # NaN -> null
    scale = 0.1 if args.quick else 1.0
    # (concurrency, most requests, seconds): long enough to include GC pauses and batching
    # cycles; the request cap only bounds a very fast server.
    plan = [
        (1, int(2_000 * scale), 10.0 * scale),
        (16, int(20_000 * scale), 10.0 * scale),
        (64, int(60_000 * scale), 15.0 * scale),
    ]
    bin_dir = Path(sys.executable).parent
    results: dict[str, dict[str, dict[str, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as temp:
        work = Path(temp)
        (work / "bare_app.py").write_text(BARE_APP, encoding="utf-8")
        saved = mlflow_model(model_dir, meta, frame.head(5), work)
        servers = {
            "mlship": (
                [str(bin_dir / "mlship"), "serve", "--port", "{port}", "--log-level", "warning"],
                {"MLSHIP_CHAMPION": str(model_dir)},
                "/ready",
                lambda batch: {"records": batch},
            ),
            "bare": (
                [
                    str(bin_dir / "uvicorn"),
                    "bare_app:app",
                    "--port",
                    "{port}",
                    "--log-level",
                    "warning",
                ],
                {"BENCH_MODEL_DIR": str(model_dir)},
                "/docs",
                None,
            ),
            "mlflow": (
                [
                    str(bin_dir / "mlflow"),
                    "models",
                    "serve",
                    "-m",
                    str(saved),
                    "--env-manager",
                    "local",
                    "-h",
                    "127.0.0.1",
                    "-p",
                    "{port}",
                ],
                {},
                "/ping",
                lambda batch: {"dataframe_records": batch},
            ),
        }
        for name, (command, env, ready, batch_body) in servers.items():
            print(f"starting {name} ...", flush=True)
            path = "/invocations" if name == "mlflow" else "/predict"
            with server(command, env, ready, work) as url:
                single = rows if name != "mlflow" else [{"dataframe_records": [r]} for r in rows]
                results[name] = {}
                for concurrency, total, seconds in plan:
                    if name == "bare" and concurrency > 1:
                        continue
                    figures = asyncio.run(load(url, path, single, concurrency, total, seconds))
                    results[name][f"c={concurrency}"] = figures
                    print(f"  {name} c={concurrency}: {_fmt(figures)}", flush=True)
                if batch_body is not None:
                    figures = asyncio.run(load(url, path, [batch_body(rows)], 1, 5, 60.0))
                    figures["rows_per_s"] = figures["rps"] * len(rows)
                    results[name]["batch=1000"] = figures
                    print(f"  {name} batch=1000: {_fmt(figures)}", flush=True)
    _report(results)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return 0


def _fmt(figures: dict[str, float]) -> str:
    text = (
        f"{figures['rps']:8.1f} req/s  p50 {figures['p50_ms']:7.1f} ms  "
        f"p99 {figures['p99_ms']:7.1f} ms  ({int(figures['requests'])} req, "
        f"{int(figures['errors'])} errors)"
    )
    if "rows_per_s" in figures:
        text += f"  {figures['rows_per_s']:.0f} rows/s"
    return text


def _report(results: dict[str, dict[str, dict[str, float]]]) -> None:
    print("\nserver  scenario     req/s     p50 ms    p99 ms")
    for name, scenarios in results.items():
        for scenario, f in scenarios.items():
            print(f"{name:<7} {scenario:<11} {f['rps']:8.1f} {f['p50_ms']:9.1f} {f['p99_ms']:9.1f}")
    ours, theirs, bare = results["mlship"], results["mlflow"], results["bare"]
    ratio64 = ours["c=64"]["rps"] / theirs["c=64"]["rps"]
    best_mlflow = max(theirs[k]["rps"] for k in ("c=1", "c=16", "c=64"))
    p50_ratio = ours["c=1"]["p50_ms"] / bare["c=1"]["p50_ms"]
    batch_ratio = ours["batch=1000"]["rps"] / theirs["batch=1000"]["rps"]
    print("\nratios")
    print(f"  c=64 throughput mlship / mlflow:          {ratio64:6.1f}x   (goal >= 20x)")
    print(f"  c=64 mlship / mlflow's best single-row:   {ours['c=64']['rps'] / best_mlflow:6.1f}x")
    print(
        f"  c=64 mlship p99:                          {ours['c=64']['p99_ms']:6.1f} ms (goal < 100)"
    )
    print(f"  c=1 p50 mlship / bare FastAPI app:        {p50_ratio:6.2f}x   (goal <= 1.2x)")
    print(f"  1,000-row batch throughput mlship/mlflow: {batch_ratio:6.1f}x")


if __name__ == "__main__":
    sys.exit(main())
