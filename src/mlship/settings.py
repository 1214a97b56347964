"""Environment variables of the mlship commands, typed once (pydantic-settings).

One model per command that reads any: its fields are the variables (prefix + field name in
capitals), each with a type, a default and a description. `read_settings` turns a bad value into
one ParamsError naming the variable. An empty variable counts as unset. The service's own
settings (MLSHIP_<NAME>) are `mlship.serving.settings.ServeSettings`; README's table of
environment variables is checked against these models and that one (tests/test_settings.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from mlship.errors import ParamsError

S = TypeVar("S", bound=BaseSettings)
GITHUB_API = "https://api.github.com"


def _config(prefix: str) -> SettingsConfigDict:
    return SettingsConfigDict(env_prefix=prefix, env_ignore_empty=True, frozen=True, extra="ignore")


class RecordSettings(BaseSettings):
    """Live recording of the service, each field MLSHIP_RECORD_<NAME> (off unless enabled)."""

    model_config = _config("MLSHIP_RECORD_")

    enabled: bool = Field(False, description="record the service's inputs and predictions")
    dir: Path = Field(Path("monitoring/records"), description="where the record files go")
    sample_rate: float = Field(1.0, ge=0.0, le=1.0, description="share of requests recorded")
    queue_size: int = Field(10_000, ge=1, description="requests waiting to be written")
    max_file_rows: int = Field(50_000, ge=1, description="rows per file before rotating")
    max_files: int = Field(20, ge=1, description="files kept; the oldest are deleted")
    seed: int | None = Field(None, description="seed of the sampling (reproducible records)")
    known_ids: int = Field(
        100_000, ge=1, description="recorded rows whose ids the service remembers for /feedback"
    )


class RolloutSettings(BaseSettings):
    """`mlship rollout`: where the live service is and the token of its admin API."""

    model_config = _config("MLSHIP_")

    deploy_url: str = Field("", description="base URL of the service a rollout steers (or --url)")
    # Only from the environment, never a flag: argv is visible to every local user.
    admin_token: SecretStr | None = Field(
        None, description="bearer token of the service's /admin/* (the rollout needs it)"
    )


class ReportSettings(BaseSettings):
    """`mlship report`: the commit it reports on, the CI steps' outcomes, the MLflow run linked."""

    model_config = _config("")

    mlship_mlflow_run_id: str = Field(
        "", description="the run the report links (default: the newest run of this commit)"
    )
    pr_head_sha: str = Field(
        "", description="the pull request's head commit (GitHub checks out a merge commit)"
    )
    github_sha: str = Field("", description="the commit reported on when PR_HEAD_SHA is unset")
    steps_json: str = Field(
        "", description="the pipeline job's `steps` context as JSON: each step's outcome"
    )


class RetrainSettings(BaseSettings):
    """`mlship retrain`: the scheduled workflow's inputs, RETRAIN_<NAME>."""

    model_config = _config("RETRAIN_")

    force: bool = Field(False, description="retrain whatever the checks say (or --force)")
    month: str | None = Field(None, description="batch month YYYY-MM (default: the newest)")
    push_url: str = Field(
        "", description="where the retrain branch is pushed (default: the GitHub repository)"
    )

    reason: str | None = Field(
        None, description="why `mlship monitor --trigger` dispatched this retrain (its payload)"
    )


class GateSettings(BaseSettings):
    """`mlship gate` and `mlship baseline`: the branch the pull request is compared with."""

    model_config = _config("")

    base_ref: str = Field("", description="the ref main's model is rebuilt from (or --ref)")


class PreprodSettings(BaseSettings):
    """`mlship preprod`: where the staging service is."""

    model_config = _config("MLSHIP_")

    staging_url: str = Field("", description="base URL of the staging service (or --url)")


class TrackingSettings(BaseSettings):
    """Every command that logs to or reads MLflow: the tracking server, MLFLOW_<NAME>."""

    model_config = _config("MLFLOW_")

    tracking_uri: str = Field("", description="an MLflow server or database (default: SQLite)")


class GitHubSettings(BaseSettings):
    """The commands that call GitHub: what Actions sets in every job, GITHUB_<NAME>."""

    model_config = _config("GITHUB_")

    repository: str = Field("", description="owner/name of the repository")
    # Only from the environment, never a flag: argv is visible to every local user.
    token: SecretStr | None = Field(None, description="token of GitHub's REST API and git push")
    api_url: str = Field(GITHUB_API, description="GitHub's REST API")
    server_url: str = Field("https://github.com", description="GitHub's web and git server")
    step_summary: Path | None = Field(None, description="the job summary file mlship appends to")


def variable(model: type[BaseSettings], field: str) -> str:
    """The environment variable of `field` in `model`."""
    return f"{model.model_config.get('env_prefix', '')}{field}".upper()


def read_settings(model: type[S]) -> S:
    """Read `model` from the environment; a bad value is a ParamsError naming its variable."""
    try:
        return model()
    except ValidationError as error:
        problems = []
        for problem in error.errors():
            field = str(problem["loc"][0]) if problem["loc"] else ""
            name = variable(model, field)
            secret = "SecretStr" in str(model.model_fields[field].annotation)
            shown = "" if secret else f"={str(problem['input'])[:80]!r}"
            problems.append(f"{name}{shown}: {problem['msg']}")
        raise ParamsError("; ".join(problems)) from None


def _type_name(annotation: Any) -> str:
    text = annotation.__name__ if isinstance(annotation, type) else str(annotation)
    for prefix in ("typing.", "pydantic.types.", "pathlib."):
        text = text.replace(prefix, "")
    # Optional is said by the default ("unset"); a table cell cannot hold a bare "|".
    return text.removesuffix(" | None").replace("SecretStr", "secret")


def _default(value: Any) -> str:
    if value is None or value == "":
        return "unset"
    return f"`{str(value).lower() if isinstance(value, bool) else value}`"


def environment_rows(*models: type[BaseSettings]) -> list[tuple[str, str, str, str]]:
    """(variable, type, default, meaning) of every field of `models`, in order."""
    return [
        (
            variable(model, field),
            _type_name(info.annotation),
            _default(info.default),
            info.description or "",
        )
        for model in models
        for field, info in model.model_fields.items()
    ]


def environment_table(*models: type[BaseSettings]) -> str:
    """The markdown table of `environment_rows`, as README.md shows it."""
    lines = ["| variable | type | default | meaning |", "|---|---|---|---|"]
    lines += [
        f"| `{name}` | {kind} | {default} | {meaning} |"
        for name, kind, default, meaning in environment_rows(*models)
    ]
    return "\n".join(lines) + "\n"
