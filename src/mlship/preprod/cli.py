"""`mlship preprod CHECK`: one pre-production check of the staging service (release.yml).

The service is at --url or $MLSHIP_STAGING_URL. `parity` sends the pipeline's held-out rows
(`paths.split_dir`/test.parquet) and compares the answers with the scores the pipeline wrote
(`paths.eval_dir`/predictions.csv): the same image and model must give the same numbers in dev
and in prod. A failed check exits 16 with one line naming it.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import pandas as pd

from mlship.config import Params
from mlship.data.io import read_table
from mlship.errors import ParamsError, PreprodFailed
from mlship.model.scoring import scores_from_frame
from mlship.preprod.checks import Check, fuzz, load, parity, readiness
from mlship.entry import run_main, stage_parser
from mlship.settings import PreprodSettings, read_settings, variable

URL_ENV = variable(PreprodSettings, "staging_url")
CHECKS = ("readiness", "parity", "load", "fuzz")


def held_out(params: Params) -> tuple[list[dict[str, Any]], Any]:
    """The held-out rows as request records (model feature order) and the pipeline's scores."""
    paths = params.paths
    meta = json.loads((paths.model_dir / "model.json").read_text(encoding="utf-8"))
    columns = [*meta["numeric"], *meta["categorical"]]
    test = read_table(paths.split_dir / "test.parquet")
    features = test[columns].astype(object)
    rows = features.where(pd.notna(features), None).to_dict(orient="records")
    _, scores = scores_from_frame(read_table(paths.eval_dir / "predictions.csv"), params.data.task)
    return [{str(k): v for k, v in row.items()} for row in rows], scores.reshape(len(rows), -1)


def check(params: Params, args: argparse.Namespace) -> Check:
    """Run the check `args.check` against the service."""
    url = (args.url or read_settings(PreprodSettings).staging_url).strip()
    if not url.startswith(("http://", "https://")):
        raise ParamsError(
            f"preprod: the staging URL must start with http(s)://: pass --url or set {URL_ENV} "
            f"(got {url!r})"
        )
    if args.check == "fuzz":
        with tempfile.TemporaryDirectory() as workdir:
            return fuzz(url, args.max_examples, Path(workdir))
    with httpx.Client(base_url=url, timeout=30) as client:
        if args.check == "readiness":
            return readiness(client, args.ready_timeout)
        rows, scores = held_out(params)
        if args.check == "parity":
            return parity(client, rows, scores, params.data.task, args.batch, args.tolerance)
        return load(client, rows, args.requests, args.concurrency, args.max_error_rate, args.p99_ms)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = stage_parser("preprod", "One pre-production check of the staging service.")
    parser.add_argument("check", choices=CHECKS)
    parser.add_argument("--url", default=None, help=f"service base URL (default ${URL_ENV})")
    parser.add_argument("--ready-timeout", type=float, default=300.0, help="readiness: seconds")
    parser.add_argument("--batch", type=_positive, default=100, help="parity: records per request")
    parser.add_argument("--tolerance", type=float, default=1e-9, help="parity: largest score gap")
    parser.add_argument("--requests", type=_positive, default=300, help="load: requests sent")
    parser.add_argument("--concurrency", type=_positive, default=4, help="load: requests in flight")
    parser.add_argument("--max-error-rate", type=float, default=0.0, help="load: error budget")
    parser.add_argument("--p99-ms", type=float, default=500.0, help="load: p99 latency budget")
    parser.add_argument("--max-examples", type=_positive, default=30, help="fuzz: per operation")

    def _run(params: Params, args: argparse.Namespace) -> None:
        result = check(params, args)
        if not result.passed:
            raise PreprodFailed(result.line())
        print(result.line())

    return run_main(parser, _run, argv)


if __name__ == "__main__":
    sys.exit(main())
