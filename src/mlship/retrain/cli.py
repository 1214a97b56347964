"""`mlship retrain`: validate the newest batch, decide, and if needed retrain, gate and register.

`mlship retrain --publish` then opens or updates one pull request per retrain (branch
`retrain/<month>`, carrying data.dvc and dvc.lock, the report in its body), or one issue when the
batch was invalid or the challenger failed the gate. The two halves are two make targets
(`retrain`, `retrain-pr`) so only the second holds a token that can write to GitHub.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from mlship.config import Params
from mlship.entry import run_main, stage_parser
from mlship.retrain.loop import run
from mlship.retrain.publish import publish
from mlship.settings import RetrainSettings, read_settings


def _run(params: Params, args: argparse.Namespace) -> None:
    if args.publish:
        publish(params)
        return
    settings = read_settings(RetrainSettings)
    force = args.force or settings.force
    month = args.month or (settings.month or "").strip() or None
    trigger = (settings.reason or "").strip() or None
    run(params, args.params, month, force, trigger)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = stage_parser(
        "retrain", "Decide on the newest data batch; retrain, gate and register when needed."
    )
    parser.add_argument(
        "--month", help="batch month YYYY-MM (default: $RETRAIN_MONTH, else newest)"
    )
    parser.add_argument(
        "--force", action="store_true", help="retrain whatever the checks say (or RETRAIN_FORCE)"
    )
    parser.add_argument(
        "--publish",
        action="store_true",
        help="open/update the retrain PR or the issue (needs GITHUB_TOKEN, GITHUB_REPOSITORY)",
    )
    return run_main(parser, _run, argv)


if __name__ == "__main__":
    sys.exit(main())
