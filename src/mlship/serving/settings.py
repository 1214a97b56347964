"""Service settings, read from MLSHIP_* environment variables (pydantic-settings)."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from mlship.monitoring.recorder import RecordSettings

TrafficMode = Literal["champion", "canary", "shadow", "ab"]


class ServeSettings(BaseSettings):
    """How `mlship serve` finds its models and shares traffic; each field is MLSHIP_<NAME>."""

    model_config = SettingsConfigDict(env_prefix="MLSHIP_", frozen=True, extra="ignore")

    champion: str = Field(
        "artifacts/model",
        description="a model directory (model.skops + model.json) or models:/<name>@<alias>",
    )
    challenger: str | None = Field(
        None, description="optional second model (same forms); absent alias = no challenger"
    )
    traffic: TrafficMode = "champion"
    canary_weight: float = Field(0.0, ge=0.0, le=100.0, description="percent to the challenger")
    max_batch: int = Field(1000, ge=1, le=100_000, description="most records in one request")
    micro_batch: bool = True
    batch_window_ms: float = Field(2.0, ge=0.0, le=1000.0)
    admin_token: SecretStr | None = Field(None, description="bearer token for /admin/*")
    feedback_token: SecretStr | None = Field(
        None, description="bearer token for POST /feedback (unset: feedback is off, 404)"
    )
    max_body_bytes: int = Field(4_000_000, ge=1024)
    threads: int = Field(1, ge=1, le=256, description="OpenMP/BLAS threads per model worker")
    mlflow_dir: Path = Path("mlruns")
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    read_timeout: float = Field(
        10.0, gt=0.0, le=3600.0, description="seconds for a request's headers and body to arrive"
    )
    keep_alive_timeout: int = Field(5, ge=1, le=3600, description="idle seconds between requests")
    max_requests: int = Field(
        256, ge=1, description="requests in progress at once; more get a JSON 503 (Retry-After)"
    )
    max_connections: int = Field(
        1000, ge=1, description="open connections (uvicorn's backstop, above max_requests)"
    )
    max_header_bytes: int = Field(16_384, ge=1024, description="request line and headers (h11)")

    @model_validator(mode="after")
    def _check_combinations(self) -> ServeSettings:
        if self.traffic != "champion" and not self.challenger:
            raise ValueError(
                f"MLSHIP_TRAFFIC={self.traffic} needs a challenger: set MLSHIP_CHALLENGER "
                "(or MLSHIP_TRAFFIC=champion)"
            )
        if self.max_connections < self.max_requests:
            # uvicorn would then refuse first, in plain text, and the JSON bound never answers.
            raise ValueError(
                f"MLSHIP_MAX_CONNECTIONS={self.max_connections} is below "
                f"MLSHIP_MAX_REQUESTS={self.max_requests}: uvicorn's connection limit is the "
                "backstop and must be at least the request bound"
            )
        return self


def unknown_settings(environ: Mapping[str, str]) -> list[str]:
    """A message for each MLSHIP_* variable no service setting reads, with the likely one.

    pydantic-settings ignores such variables, so a misspelt setting would silently keep its
    default. Other mlship commands' variables (MLSHIP_DEPLOY_URL, ...) land here too, which is
    why this warns rather than fails.
    """
    known = {f"MLSHIP_{name.upper()}" for name in ServeSettings.model_fields.keys()}
    known |= {f"MLSHIP_RECORD_{name.upper()}" for name in RecordSettings.model_fields.keys()}
    messages = []
    for name in sorted(environ):
        if name.upper().startswith("MLSHIP_") and name.upper() not in known:
            close = difflib.get_close_matches(name.upper(), sorted(known), n=1, cutoff=0.8)
            hint = f"; did you mean {close[0]}?" if close else ""
            messages.append(f"{name} is not a service setting, ignored{hint}")
    return messages
