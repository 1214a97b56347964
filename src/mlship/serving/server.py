"""`mlship serve`: run the model service under uvicorn."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from mlship.errors import ExitCode


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; settings come from MLSHIP_* variables, options override."""
    parser = argparse.ArgumentParser(
        prog="mlship serve",
        description="Serve the champion (and a challenger) over HTTP. Settings are read from "
        "MLSHIP_* environment variables; see docs/serving.md.",
    )
    parser.add_argument("--host", help="bind address (MLSHIP_HOST, default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (MLSHIP_PORT, default 8000)")
    parser.add_argument("--champion", help="model dir or models:/<name>@<alias> (MLSHIP_CHAMPION)")
    parser.add_argument("--challenger", help="second model, same forms (MLSHIP_CHALLENGER)")
    parser.add_argument(
        "--log-level", default="info", choices=["debug", "info", "warning", "error"]
    )
    args = parser.parse_args(argv)
    overrides = {
        key: value
        for key in ("host", "port", "champion", "challenger")
        if (value := getattr(args, key)) is not None
    }
    # pylint: disable=import-outside-toplevel  # settings first so a typo fails fast and clearly
    from mlship.serving.settings import ServeSettings, unknown_settings

    for message in unknown_settings(os.environ):
        print(f"mlship serve: warning: {message}", file=sys.stderr)
    try:
        settings = ServeSettings(**overrides)
    except ValidationError as error:
        first = error.errors()[0]
        name = ".".join(str(p) for p in first["loc"])
        message = str(first["msg"]).removeprefix("Value error, ")
        # A check across settings has no loc; its message names the variables itself.
        where = f"MLSHIP_{name.upper()}: " if name else ""
        print(f"mlship serve: error: {where}{message}", file=sys.stderr)
        return int(ExitCode.PARAMS)
    # Read by OpenMP when it loads: one pool size per model worker (threadpoolctl also sets it).
    os.environ.setdefault("OMP_NUM_THREADS", str(settings.threads))

    from mlship.errors import MlshipError
    from mlship.serving.app import create_app
    from mlship.serving.limits import run_server
    from mlship.serving.loading import load_models

    try:
        models = load_models(
            settings.champion, settings.challenger, settings.mlflow_dir, challenger_optional=True
        )
        if models.challenger_error:
            print(
                f"mlship serve: warning: challenger not loaded, serving the champion alone: "
                f"{models.challenger_error}",
                file=sys.stderr,
            )
        run_server(create_app(settings, models), settings, args.log_level)
    except MlshipError as error:
        print(f"mlship serve: error: {error}", file=sys.stderr)
        return error.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
