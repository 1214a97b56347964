"""`mlship registry`: register, promote, roll back and list model versions."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict

from tabulate import tabulate

from mlship.config import Params
from mlship.entry import run_main, stage_parser
from mlship.registry.core import Registry, VersionRow, connect
from mlship.tracking import mlflow_errors, tracking_uri


def status_table(rows: list[VersionRow], key_metrics: Sequence[str]) -> str:
    """The versions as a plain-text table, newest first."""
    names = list(key_metrics) or sorted({name for row in rows for name in row.metrics})
    headers = ["version", "aliases", "created (UTC)", "promoted at (UTC)", *names, "run"]
    body = [
        [
            row.version,
            ",".join(row.aliases) or "-",
            row.created,
            row.promoted_at or "-",
            *(f"{row.metrics[n]:.4f}" if n in row.metrics else "-" for n in names),
            row.run_id[:12],
        ]
        for row in rows
    ]
    return str(tabulate(body, headers=headers, tablefmt="simple", disable_numparse=True))


def history_lines(registry: Registry) -> list[str]:
    """The promotion history, oldest first, one line per event."""
    return [
        f"  {entry.get('at', '?')}  {entry.get('action', '?'):<8} -> version "
        f"{entry.get('version')} (champion before: {entry.get('previous') or 'none'})"
        for entry in registry.history()
    ]


def _run(params: Params, args: argparse.Namespace) -> None:
    with mlflow_errors(tracking_uri(params.paths.mlflow_dir)):
        _act(params, args)


def _act(params: Params, args: argparse.Namespace) -> None:
    registry = connect(params)
    if args.action == "register":
        run_id = args.run_id or registry.latest_run_id(params.tracking.experiment)
        existing = registry.version_of_run(run_id)
        if existing is not None:
            # A push that changed nothing the pipeline reads logs no new run (train.yml):
            # registering it again would make a champion its own challenger.
            print(f"run {run_id} is already {registry.name} version {existing}; nothing to do")
            return
        version = registry.register(run_id)
        print(f"registered {registry.name} version {version} from run {run_id} as challenger")
    elif args.action == "promote":
        version = registry.promote()
        print(f"promoted {registry.name} version {version} to champion")
    elif args.action == "rollback":
        version = registry.rollback()
        print(f"rolled back {registry.name}: champion is version {version} again")
    elif args.action == "clear-challenger":
        cleared = registry.clear_challenger()
        print(f"cleared challenger of {registry.name} (was version {cleared or 'none'})")
    elif args.json:
        listed = [asdict(row) for row in registry.status()]
        print(json.dumps({"versions": listed, "history": registry.history()}, indent=2))
    else:
        rows = registry.status()
        if not rows:
            print(f"{registry.name}: no registered versions yet")
            return
        print(f"registered model {registry.name}")
        print(status_table(rows, params.registry.key_metrics))
        lines = history_lines(registry) or ["  none yet"]
        print("\npromotion history:\n" + "\n".join(lines))


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = stage_parser("registry", "Manage model versions in the MLflow registry.")
    sub = parser.add_subparsers(dest="action", required=True)
    register = sub.add_parser("register", help="register a run's model and alias it challenger")
    register.add_argument("--run-id", help="MLflow run id (default: the experiment's latest run)")
    sub.add_parser("promote", help="make the challenger the champion; record the promotion")
    sub.add_parser("rollback", help="make the previous champion the champion again")
    sub.add_parser("clear-challenger", help="remove the challenger alias (rejected rollout)")
    status = sub.add_parser("status", help="table of versions, aliases, metrics, promotions")
    status.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return run_main(parser, _run, argv)


if __name__ == "__main__":
    sys.exit(main())
