"""The `mlship` command: one subcommand per stage or tool, each with its own --help."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

# Subcommand -> (module with a `main(argv) -> int`, one-line help). Modules load lazily so
# `mlship --help` stays fast and a broken optional part cannot break the others.
COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("mlship.init.cli", "set the project up for your own CSV or Parquet file"),
    "data": ("mlship.stages.data", "put in place the data its .dvc file pins, or fail"),
    "validate": ("mlship.stages.validate", "validate the dataset against its contract"),
    "split": ("mlship.stages.split", "split into train and held-out test sets"),
    "train": ("mlship.stages.train", "train the configured model"),
    "evaluate": ("mlship.stages.evaluate", "evaluate on the held-out rows and log to MLflow"),
    "smoke": ("mlship.gate.smoke", "run the pipeline on this branch's data (PR train job)"),
    "baseline": ("mlship.gate.baseline", "rebuild main's outputs in a git worktree for the gate"),
    "gate": ("mlship.gate.cli", "compare this branch's model with main's; fail on regression"),
    "report": ("mlship.report.cli", "write the pull-request report (markdown for CML)"),
    "registry": ("mlship.registry.cli", "register, promote, roll back and list model versions"),
    "reproduce": (
        "mlship.reproduce.cli",
        "rebuild a registered version from its lineage; same bytes?",
    ),
    "serve": ("mlship.serving.server", "serve the champion (and challenger) over HTTP"),
    "rollout": ("mlship.rollout.cli", "canary the challenger live, then promote or roll back"),
    "preprod": ("mlship.preprod.cli", "one pre-production check of the staging service"),
    "drift": ("mlship.monitoring.cli", "compare new data with the training data; drift reports"),
    "ingest": ("mlship.retrain.ingest", "write the month's data batch (the example simulates it)"),
    "retrain": ("mlship.retrain.cli", "decide on the newest batch; retrain, gate, open a PR"),
    "monitor": ("mlship.monitoring.monitor", "drift of recorded live traffic; gauges, trigger"),
    "feedback": ("mlship.monitoring.feedback", "ingest true labels of recorded predictions"),
}


def usage() -> str:
    """The top-level help text."""
    width = max(map(len, COMMANDS))
    lines = ["usage: mlship <command> [options]", "", "commands:"]
    lines += [f"  {name:<{width}}  {help_}" for name, (_, help_) in COMMANDS.items()]
    lines += ["", "Run `mlship <command> --help` for a command's options."]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Dispatch to a subcommand."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in {"-h", "--help"}:
        print(usage())
        return 0
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        print(f"mlship: unknown command {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[name][0])
    code: int = module.main(rest)
    return code


if __name__ == "__main__":
    sys.exit(main())
