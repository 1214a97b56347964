"""`mlship rollout`: canary the registry's challenger on a live service, or undo a release."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from mlship.config import DEFAULT_PARAMS, Params
from mlship.entry import run_main
from mlship.errors import RolledBack, RolloutError
from mlship.registry.core import connect
from mlship.rollout.client import ServiceClient
from mlship.rollout.controller import Controller
from mlship.settings import RolloutSettings, read_settings, variable
from mlship.tracking import mlflow_errors, tracking_uri

URL_ENV = variable(RolloutSettings, "deploy_url")
TOKEN_ENV = variable(RolloutSettings, "admin_token")


def _with_overrides(params: Params, args: argparse.Namespace) -> Params:
    changes = {
        key: value
        for key, value in (
            ("steps", args.steps),
            ("window_seconds", args.window),
            ("max_window_seconds", args.max_window),
            ("min_requests", args.min_requests),
        )
        if value is not None
    }
    if not changes:
        return params
    merged = {**params.rollout.model_dump(), **changes}
    try:
        rollout = type(params.rollout).model_validate(merged)
    except ValidationError as error:
        first = error.errors()[0]
        message = str(first["msg"]).removeprefix("Value error, ")
        where = "".join(f"{part}: " for part in first["loc"])
        raise RolloutError(f"rollout options: {where}{message}") from None
    return params.model_copy(update={"rollout": rollout})


def _steps(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError as error:
        raise argparse.ArgumentTypeError(
            f"expected percentages like 5,25,50,100: {text!r}"
        ) from error


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlship rollout",
        description="Canary the registry's challenger on a running `mlship serve`, then promote "
        f"it or roll it back. The service URL comes from --url or ${URL_ENV}; the admin token "
        f"only from ${TOKEN_ENV}.",
    )
    parser.add_argument(
        "action",
        nargs="?",
        default="start",
        choices=["start", "abort", "revert"],
        help="start: step the canary and decide (default); abort: champion only, challenger "
        "alias cleared; revert: champion back to the previous version, service reloaded",
    )
    parser.add_argument("--url", default=None, help=f"service base URL (default ${URL_ENV})")
    parser.add_argument("--params", type=Path, default=DEFAULT_PARAMS)
    parser.add_argument("--steps", type=_steps, default=None, help="e.g. 5,25,50,100")
    parser.add_argument("--window", type=float, default=None, help="seconds observed per step")
    parser.add_argument("--max-window", type=float, default=None, help="longest wait per step")
    parser.add_argument("--min-requests", type=int, default=None, help="per model per step")
    return parser


def _run(params: Params, args: argparse.Namespace) -> None:
    params = _with_overrides(params, args)
    settings = read_settings(RolloutSettings)
    url = args.url or settings.deploy_url.strip()
    token = settings.admin_token.get_secret_value().strip() if settings.admin_token else ""
    if not url:
        raise RolloutError(f"no service URL: pass --url or set {URL_ENV}")
    if not token:
        raise RolloutError(f"no admin token: set {TOKEN_ENV}")
    service = ServiceClient(url, token)
    try:
        with mlflow_errors(tracking_uri(params.paths.mlflow_dir)):
            controller = Controller(params, connect(params), service)
            if args.action == "abort":
                cleared = controller.abort()
                print(f"aborted: champion only; challenger {cleared or 'none'} cleared")
                return
            if args.action == "revert":
                controller.revert()
                return
            result = controller.run()
    finally:
        service.close()
    if result.decision == "rolled_back":
        raise RolledBack(
            f"version {result.challenger} rolled back, champion {result.champion} kept: "
            f"{result.reason}"
        )


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    return run_main(_parser(), _run, argv)


if __name__ == "__main__":
    sys.exit(main())
