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
from mlship.registry.core import Registry, connect
from mlship.rollout.client import ServiceClient
from mlship.rollout.controller import Controller
from mlship.settings import RecordSettings, RolloutSettings, read_settings, variable
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
    parser.add_argument(
        "--commit",
        default=None,
        help="start: canary the version built from this commit (a release's tag) ...",
    )
    parser.add_argument(
        "--model-md5",
        default=None,
        help="... whose model file has this md5 (the image's); registered if only its run exists",
    )
    return parser


def _release_challenger(registry: Registry, params: Params, commit: str, model_md5: str) -> None:
    """Make the tagged commit's model, with the image's bytes, the challenger to canary."""
    version = registry.release_version(params.tracking.experiment, commit, model_md5)
    print(
        f"release: {registry.name} version {version} is commit {commit[:12]}'s model "
        f"(md5 {model_md5}); canarying it as the challenger"
    )


def _run(params: Params, args: argparse.Namespace) -> None:
    params = _with_overrides(params, args)
    settings = read_settings(RolloutSettings)
    url = args.url or settings.deploy_url.strip()
    token = settings.admin_token.get_secret_value().strip() if settings.admin_token else ""
    if not url:
        raise RolloutError(f"no service URL: pass --url or set {URL_ENV}")
    if not token:
        raise RolloutError(f"no admin token: set {TOKEN_ENV}")
    if (args.commit or args.model_md5) and not (args.commit and args.model_md5):
        raise RolloutError("--commit and --model-md5 go together")
    if args.commit and args.action != "start":
        raise RolloutError(f"--commit and --model-md5 go with start, not {args.action}")
    service = ServiceClient(url, token)
    try:
        with mlflow_errors(tracking_uri(params.paths.mlflow_dir)):
            records = read_settings(RecordSettings).dir
            controller = Controller(params, connect(params), service, records=records)
            if args.action == "abort":
                cleared = controller.abort()
                print(f"aborted: champion only; challenger {cleared or 'none'} cleared")
                return
            if args.action == "revert":
                controller.revert()
                return
            if args.commit:
                _release_challenger(controller.registry, params, args.commit, args.model_md5)
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
