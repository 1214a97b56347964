"""Time and measure the peak memory of each pipeline stage on growing generated datasets.

Each stage runs as `python -m mlship.stages.<name>` in its own process, exactly as `dvc repro`
runs it; the peak RSS of each process comes from `os.wait4`. Data generation is timed apart
from the pipeline (validate, split, train, evaluate with MLflow tracking on an embedded SQLite
store). Usage: `python benchmarks/bench_pipeline.py [--rows N ...] [--workdir DIR]`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess  # nosec B404 - runs this interpreter on fixed module names
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
STAGES = ("validate", "split", "train", "evaluate")
DEFAULT_ROWS = (20_000, 200_000, 2_000_000)


@dataclass
class Measure:
    """Wall seconds, CPU seconds (user + system) and peak RSS (MB) of one process."""

    seconds: float
    cpu: float
    peak_mb: float


@dataclass
class Result:
    """All measures for one dataset size."""

    rows: int
    generate: Measure
    stages: dict[str, Measure] = field(default_factory=dict)

    @property
    def total(self) -> float:
        """Pipeline seconds, data generation excluded."""
        return sum(m.seconds for m in self.stages.values())

    @property
    def cpu(self) -> float:
        """Pipeline CPU seconds: less sensitive than wall time to other load on the machine."""
        return sum(m.cpu for m in self.stages.values())

    @property
    def peak_mb(self) -> float:
        """The largest peak RSS of any pipeline stage."""
        return max(m.peak_mb for m in self.stages.values())


def run_measured(args: list[str], cwd: Path, env: dict[str, str]) -> Measure:
    """Run a process to completion; return its wall time and its own peak RSS."""
    start = time.perf_counter()
    with subprocess.Popen(  # nosec B603 - fixed arguments, no shell
        args, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    ) as process:
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        stderr = process.stderr.read().decode() if process.stderr else ""
    seconds = time.perf_counter() - start
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(args[2:])} failed ({process.returncode}):\n{stderr}")
    # ru_maxrss is in KiB on Linux.
    return Measure(seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


def make_project(root: Path, rows: int) -> None:
    """Lay out a project: the repo's params (with `rows`) and schema, an own MLflow store."""
    root.mkdir(parents=True, exist_ok=True)
    raw = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    raw["generate"]["rows"] = rows
    raw["validate"]["min_rows"] = min(raw["validate"]["min_rows"], rows // 2)
    raw["tracking"]["enabled"] = True
    (root / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    shutil.copy(REPO / "schema.yaml", root / "schema.yaml")


def bench(rows: int, root: Path) -> Result:
    """Generate `rows` rows, then run and measure each stage."""
    make_project(root, rows)
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}"}
    python = sys.executable
    result = Result(
        rows, run_measured([python, "-m", "mlship.stages.data", "--example"], root, env)
    )
    for stage in STAGES:
        result.stages[stage] = run_measured([python, "-m", f"mlship.stages.{stage}"], root, env)
        print(f"  {rows:>9,} rows  {stage:<9} {result.stages[stage].seconds:7.1f} s", flush=True)
    return result


def table(results: Sequence[Result]) -> str:
    """A plain-text table: one row per size, per-stage seconds, total, peak RSS."""
    head = ["rows", "generate s", *(f"{s} s" for s in STAGES), "total s", "cpu s", "peak RSS MB"]
    rows = []
    for result in results:
        cells = [f"{result.rows:,}", f"{result.generate.seconds:.1f}"]
        cells += [f"{result.stages[s].seconds:.1f}" for s in STAGES]
        cells += [f"{result.total:.1f}", f"{result.cpu:.1f}", f"{result.peak_mb:.0f}"]
        rows.append(cells)
    widths = [max(len(cell) for cell in column) for column in zip(head, *rows)]
    lines = [" | ".join(h.rjust(w) for h, w in zip(head, widths))]
    lines.append(" | ".join("-" * w for w in widths))
    lines += [" | ".join(c.rjust(w) for c, w in zip(cells, widths)) for cells in rows]
    return "\n".join(lines)


def growth(results: Sequence[Result]) -> str:
    """Growth of time and memory between consecutive sizes, against the growth of rows."""
    lines = []
    for small, large in zip(results, results[1:]):
        per_stage = ", ".join(
            f"{s} x{large.stages[s].seconds / max(small.stages[s].seconds, 1e-9):.1f}"
            for s in STAGES
        )
        lines.append(
            f"{large.rows:,} vs {small.rows:,}: rows x{large.rows / small.rows:.0f}, "
            f"total time x{large.total / small.total:.1f} ({per_stage}), "
            f"cpu x{large.cpu / small.cpu:.1f}, "
            f"peak RSS x{large.peak_mb / small.peak_mb:.1f}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rows", type=int, action="append", help="dataset size (repeatable; default 20k 200k 2M)"
    )
    parser.add_argument("--workdir", type=Path, help="keep the projects here (default: a temp dir)")
    args = parser.parse_args(argv)
    sizes = sorted(args.rows or DEFAULT_ROWS)
    with tempfile.TemporaryDirectory(prefix="mlship-bench-") as temp:
        base = args.workdir or Path(temp)
        results = [bench(rows, base / f"rows-{rows}") for rows in sizes]
    print()
    print(table(results))
    if len(results) > 1:
        print()
        print(growth(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
