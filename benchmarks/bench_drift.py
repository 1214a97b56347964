"""Benchmark mlship's drift detection against Evidently's DataDriftPreset on the same data.

Commands for the ``bench-drift`` make target (run from the repository root):

    python3 -m venv .venv-bench-drift
    .venv-bench-drift/bin/pip install -r benchmarks/requirements-drift.txt
    .venv/bin/python benchmarks/bench_drift.py

The first two lines are what the script does itself when ``.venv-bench-drift`` is missing.
Evidently lives in that separate venv because it fails to import with pandas 3.

For each size (100k and 1M rows by default) the script generates a reference and a current
frame of 20 columns with numpy, some with injected drift and some without, writes them to
parquet in a temp dir, and runs each tool in its own subprocess: one process per measurement,
so each peak RSS is that tool's alone (``ru_maxrss`` of the worker itself; the parent's
``RUSAGE_CHILDREN`` would be the maximum over every child run so far). Time covers the drift
computation only, not imports or reading parquet. It prints seconds, peak RSS, the growth of
RSS over the loaded data, the speed ratio, and a column-by-column table of drift decisions
against the injected ground truth. The goals it reports on (not asserts): at least 30x faster
than Evidently, 1M x 20 under 5 s with the domain classifier, under half Evidently's memory.
"""

from __future__ import annotations

import argparse
import importlib
import json
import resource

# Runs this same script, and pip, in known interpreters without a shell.
import subprocess  # nosec B404
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
BENCH_VENV = ROOT / ".venv-bench-drift"
REQUIREMENTS = ROOT / "benchmarks" / "requirements-drift.txt"

NUMERIC = [f"n{i}" for i in range(12)]
CATEGORICAL = [f"c{i}" for i in range(8)]
# What was injected, and whether a person watching the model would want to hear about it.
TRUTH: dict[str, tuple[bool, str]] = {
    "n0": (False, "normal, unchanged"),
    "n1": (True, "normal, mean +0.08 sd"),
    "n2": (True, "normal, mean +0.5 sd"),
    "n3": (True, "normal, sd x1.3"),
    "n4": (False, "lognormal, unchanged"),
    "n5": (True, "lognormal, x1.1"),
    "n6": (False, "uniform, unchanged"),
    "n7": (True, "exponential, missing 1% -> 10%"),
    "n8": (True, "normal, 3% of rows +3 sd"),
    "n9": (False, "poisson(3), unchanged"),
    "n10": (True, "poisson 3 -> 3.3"),
    "n11": (False, "normal, mean +0.01 sd (trivial)"),
    "c0": (False, "5 levels, unchanged"),
    "c1": (False, "10 levels zipf, unchanged"),
    "c2": (True, "4 levels, mix changed"),
    "c3": (True, "3 levels, mix +-3 points"),
    "c4": (True, "new level at 5%"),
    "c5": (False, "200 levels, unchanged"),
    "c6": (True, "missing 0% -> 8%"),
    "c7": (False, "3 levels, unchanged"),
}


def _labels(prefix: str, count: int) -> np.ndarray[Any, np.dtype[np.str_]]:
    return np.array([f"{prefix}{i}" for i in range(count)])


def _with_missing(values: np.ndarray[Any, Any], share: float, rng: np.random.Generator) -> Any:
    out = values.astype(object) if values.dtype.kind in "US" else values.astype(np.float64)
    out[rng.uniform(size=values.size) < share] = None if out.dtype == object else np.nan
    return out


def make_frame(rows: int, drifted: bool, seed: int) -> pd.DataFrame:
    """Return one side of the benchmark data; ``drifted`` applies every injected change."""
    rng = np.random.default_rng(seed)
    d = 1.0 if drifted else 0.0
    zipf = 1.0 / np.arange(1, 11)
    mix = [0.3, 0.3, 0.25, 0.15] if drifted else [0.4, 0.3, 0.2, 0.1]
    subtle = [0.47, 0.32, 0.21] if drifted else [0.5, 0.3, 0.2]
    n8 = rng.normal(size=rows)
    n8[rng.uniform(size=rows) < 0.03 * d] += 3.0
    c4 = rng.choice(_labels("k", 6), size=rows).astype(object)
    c4[rng.uniform(size=rows) < 0.05 * d] = "brand_new"
    columns: dict[str, Any] = {
        "n0": rng.normal(size=rows),
        "n1": rng.normal(0.08 * d, size=rows),
        "n2": rng.normal(0.5 * d, size=rows),
        "n3": rng.normal(0.0, 1.0 + 0.3 * d, size=rows),
        "n4": rng.lognormal(size=rows),
        "n5": rng.lognormal(size=rows) * (1.0 + 0.1 * d),
        "n6": rng.uniform(size=rows),
        "n7": _with_missing(rng.exponential(size=rows), 0.01 + 0.09 * d, rng),
        "n8": n8,
        "n9": rng.poisson(3.0, size=rows).astype(np.float64),
        "n10": rng.poisson(3.0 + 0.3 * d, size=rows).astype(np.float64),
        "n11": rng.normal(0.01 * d, size=rows),
        "c0": rng.choice(_labels("a", 5), size=rows),
        "c1": rng.choice(_labels("z", 10), size=rows, p=zipf / zipf.sum()),
        "c2": rng.choice(_labels("m", 4), size=rows, p=mix),
        "c3": rng.choice(_labels("s", 3), size=rows, p=subtle),
        "c4": c4,
        "c5": rng.choice(_labels("city", 200), size=rows),
        "c6": _with_missing(rng.choice(_labels("g", 4), size=rows), 0.08 * d, rng),
        "c7": rng.choice(_labels("t", 3), size=rows),
    }
    frame = pd.DataFrame(columns)
    for name in CATEGORICAL:
        frame[name] = frame[name].astype("string")
    return frame


# --------------------------------------------------------------------------- workers


def _rss_mb(field: str) -> float:
    """Return VmRSS or VmHWM of this process in MB (Linux)."""
    for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _run_mlship(
    ref: pd.DataFrame, cur: pd.DataFrame, domain_classifier: bool = True
) -> tuple[dict[str, bool], dict[str, Any]]:
    # pylint: disable=import-outside-toplevel
    from mlship.config import DriftSettings
    from mlship.monitoring.drift import detect_drift

    settings = DriftSettings(domain_classifier=domain_classifier)
    result = detect_drift(ref, cur, NUMERIC, CATEGORICAL, settings)
    extra: dict[str, Any] = {
        "domain_auc": None if result.domain is None else round(result.domain.auc, 4)
    }
    if result.domain is not None:
        extra["domain_drifted"] = result.domain.drifted
        extra["domain_top"] = [k for k, _ in result.domain.importances[:3]]
    return {c.name: c.drifted for c in result.columns}, extra


def _run_evidently(ref: pd.DataFrame, cur: pd.DataFrame) -> tuple[dict[str, bool], dict[str, Any]]:
    # pylint: disable=import-outside-toplevel,import-error
    from evidently import DataDefinition, Dataset, Report  # type: ignore[import-not-found]
    from evidently.presets import DataDriftPreset  # type: ignore[import-not-found]

    definition = DataDefinition(numerical_columns=NUMERIC, categorical_columns=CATEGORICAL)
    snapshot = Report([DataDriftPreset()]).run(
        Dataset.from_pandas(cur, data_definition=definition),
        Dataset.from_pandas(ref, data_definition=definition),
    )
    decisions: dict[str, bool] = {}
    methods: dict[str, str] = {}
    for metric in snapshot.dict()["metrics"]:
        config = metric["config"]
        if not config["type"].endswith("ValueDrift"):
            continue
        method, value, threshold = config["method"], float(metric["value"]), config["threshold"]
        # Evidently's rule: a p-value method drifts at or below its threshold, a distance at
        # or above it.
        is_p_value = "p_value" in method
        decisions[config["column"]] = value <= threshold if is_p_value else value >= threshold
        methods[config["column"]] = method
    return decisions, {"methods": sorted(set(methods.values()))}


def worker(tool: str, data_dir: Path, repeat: int) -> None:
    """Time one tool on the parquet pair in ``data_dir`` and print one JSON line."""
    # Import the tool before the clock starts: library import time is not drift detection.
    importlib.import_module(
        "evidently.presets" if tool == "evidently" else "mlship.monitoring.drift"
    )
    ref = pd.read_parquet(data_dir / "reference.parquet")
    cur = pd.read_parquet(data_dir / "current.parquet")
    loaded_mb = _rss_mb("VmRSS")
    run = {
        "mlship": _run_mlship,
        "mlship-cols": lambda r, c: _run_mlship(r, c, domain_classifier=False),
        "evidently": _run_evidently,
    }[tool]
    times, cpu_times = [], []
    decisions: dict[str, bool] = {}
    extra: dict[str, Any] = {}
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_SELF)
        start = time.perf_counter()
        decisions, extra = run(ref, cur)
        times.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_SELF)
        cpu_times.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "seconds": min(times),
                "all_seconds": times,
                "cpu_seconds": min(cpu_times),
                "peak_rss_mb": peak_mb,
                "loaded_rss_mb": loaded_mb,
                "decisions": decisions,
                **extra,
            }
        )
    )


# --------------------------------------------------------------------------- driver


def ensure_bench_venv() -> Path:
    """Return Evidently's interpreter, creating its venv from the pinned requirements if needed."""
    python = BENCH_VENV / "bin" / "python"
    if not python.exists():
        print(f"creating {BENCH_VENV.name} from {REQUIREMENTS.relative_to(ROOT)} ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(BENCH_VENV)], check=True)  # nosec B603
        subprocess.run(  # nosec B603
            [str(python), "-m", "pip", "install", "-q", "-r", str(REQUIREMENTS)], check=True
        )
    return python


def measure(python: Path, tool: str, data_dir: Path, repeat: int) -> dict[str, Any]:
    """Run one measurement in a fresh process and return what it printed."""
    proc = subprocess.run(  # nosec B603
        [
            str(python),
            str(Path(__file__).resolve()),
            "--worker",
            tool,
            "--data",
            str(data_dir),
            "--repeat",
            str(repeat),
        ],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def _mark(value: bool | None) -> str:
    return "-" if value is None else ("DRIFT" if value else ".")


def report(rows: int, runs: dict[str, dict[str, Any]]) -> None:
    """Print the timing table and the column-by-column agreement for one size."""
    print(f"\n== {rows:,} rows x {len(NUMERIC) + len(CATEGORICAL)} columns ==")
    print(f"{'tool':<12} {'seconds':>9} {'CPU s':>8} {'peak RSS MB':>12} {'RSS over data MB':>17}")
    for tool, run in runs.items():
        growth = run["peak_rss_mb"] - run["loaded_rss_mb"]
        print(
            f"{tool:<12} {run['seconds']:>9.2f} {run['cpu_seconds']:>8.2f}"
            f" {run['peak_rss_mb']:>12.0f} {growth:>17.0f}"
        )
    ours, theirs = runs.get("mlship"), runs.get("evidently")
    if ours is not None:
        print(
            f"mlship domain classifier: AUC {ours.get('domain_auc')},"
            f" drifted {ours.get('domain_drifted')}, top {ours.get('domain_top')}"
        )
    if ours is not None and theirs is not None:
        print(f"evidently methods: {', '.join(theirs['methods'])}")
        speed = theirs["seconds"] / ours["seconds"]
        cpu_speed = theirs["cpu_seconds"] / ours["cpu_seconds"]
        memory = ours["peak_rss_mb"] / theirs["peak_rss_mb"]
        growth = (ours["peak_rss_mb"] - ours["loaded_rss_mb"]) / max(
            theirs["peak_rss_mb"] - theirs["loaded_rss_mb"], 1e-9
        )
        print(
            f"speed-up {speed:.1f}x wall, {cpu_speed:.1f}x CPU (goal >= 30x);"
            f" peak RSS ratio {memory:.2f}, RSS-over-data ratio {growth:.2f} (goal < 0.5)"
        )
        if "mlship-cols" in runs:
            cols_speed = theirs["seconds"] / runs["mlship-cols"]["seconds"]
            print(f"speed-up without the domain classifier {cols_speed:.1f}x")
        if rows >= 1_000_000:
            print(f"1M rows in {ours['seconds']:.2f} s (goal < 5 s)")
    print(f"\n{'column':<7} {'injected':<34} {'truth':>6} {'mlship':>7} {'evidently':>10}")
    score = {"mlship": 0, "evidently": 0, "agree": 0}
    for name in NUMERIC + CATEGORICAL:
        truth, what = TRUTH[name]
        ours_d = None if ours is None else ours["decisions"].get(name)
        theirs_d = None if theirs is None else theirs["decisions"].get(name)
        score["mlship"] += ours_d == truth
        score["evidently"] += theirs_d == truth
        score["agree"] += ours_d == theirs_d
        print(f"{name:<7} {what:<34} {_mark(truth):>6} {_mark(ours_d):>7} {_mark(theirs_d):>10}")
    total = len(TRUTH)
    print(
        f"correct vs injected truth: mlship {score['mlship']}/{total},"
        f" evidently {score['evidently']}/{total}; tools agree on {score['agree']}/{total}"
    )


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, or one worker measurement when called with --worker."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=1, help="timed runs per tool; best kept")
    parser.add_argument("--skip-evidently", action="store_true")
    parser.add_argument(
        "--worker", choices=["mlship", "mlship-cols", "evidently"], help=argparse.SUPPRESS
    )
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker, args.data, args.repeat)
        return 0

    evidently_python = None if args.skip_evidently else ensure_bench_venv()
    for rows in args.rows:
        with tempfile.TemporaryDirectory(prefix="bench-drift-") as tmp:
            data_dir = Path(tmp)
            make_frame(rows, drifted=False, seed=1).to_parquet(data_dir / "reference.parquet")
            make_frame(rows, drifted=True, seed=2).to_parquet(data_dir / "current.parquet")
            runs = {
                tool: measure(Path(sys.executable), tool, data_dir, args.repeat)
                for tool in ("mlship", "mlship-cols")
            }
            if evidently_python is not None:
                runs["evidently"] = measure(evidently_python, "evidently", data_dir, args.repeat)
        report(rows, runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
