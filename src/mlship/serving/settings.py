"""Service settings, read from MLSHIP_* environment variables (pydantic-settings)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

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
    max_body_bytes: int = Field(4_000_000, ge=1024)
    threads: int = Field(1, ge=1, le=256, description="OpenMP/BLAS threads per model worker")
    mlflow_dir: Path = Path("mlruns")
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)

    @model_validator(mode="after")
    def _check_traffic(self) -> ServeSettings:
        if self.traffic != "champion" and not self.challenger:
            raise ValueError(f"traffic {self.traffic!r} needs MLSHIP_CHALLENGER")
        return self
