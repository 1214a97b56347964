"""Request bodies of the admin endpoints: a traffic split, model sources to reload."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from mlship.serving.settings import TrafficMode


class TrafficUpdate(BaseModel):
    """A new traffic split."""

    # strict: `true` is not a number, "1" not a boolean.
    model_config = ConfigDict(extra="forbid", strict=True)

    mode: TrafficMode
    canary_weight: float = Field(0.0, ge=0.0, le=100.0, description="percent, for mode canary")


# No control characters (a NUL made the path unusable): in the schema, so clients see it.
Source = Annotated[str, Field(min_length=1, max_length=500, pattern=r"^[^\x00-\x1f\x7f-\x9f]+$")]


class ReloadRequest(BaseModel):
    """Model sources to (re)load; omitted fields keep the current source."""

    model_config = ConfigDict(extra="forbid", strict=True)

    champion: Source | None = None
    challenger: Source | None = None
    drop_challenger: bool = Field(False, description="unload the challenger, traffic to champion")
