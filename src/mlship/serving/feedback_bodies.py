"""The body and answer of POST /feedback: labels of recorded predictions, what became of them."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from mlship.monitoring.labels import epoch_seconds
from mlship.monitoring.recorder import ROW_ID_PATTERN

# Small enough that one label too many is a 422, not the body limit's 413 (1,001 labels: ~50 kB)
MAX_LABELS = 1000
MAX_LABEL_TEXT = 1000


class LabelIn(BaseModel):
    """The ground truth of one prediction."""

    model_config = ConfigDict(extra="forbid", strict=True)

    id: str = Field(
        max_length=140, pattern=ROW_ID_PATTERN, description="the answer's `request_id` (a row's)"
    )
    label: str | int | float | bool = Field(description="the true value: a JSON scalar")
    # The schema says number: an ISO-8601 string is accepted too and turned into epoch seconds,
    # but "any string" would be a lie a fuzzer catches ("" is no time).
    timestamp: float | None = Field(
        None,
        description="when the truth was known: epoch seconds (or ISO-8601 text, UTC unless an "
        "offset is given); default: on arrival",
    )

    @field_validator("label", mode="before")
    @classmethod
    def _scalar(cls, value: Any) -> Any:
        if not isinstance(value, (str, int, float, bool)):
            kind = (
                "an object"
                if isinstance(value, dict)
                else "an array" if isinstance(value, list) else "null"
            )
            raise ValueError(f"label must be a JSON string, number or boolean, not {kind}")
        if isinstance(value, str) and len(value) > MAX_LABEL_TEXT:
            raise ValueError(f"label text longer than {MAX_LABEL_TEXT} characters")
        return value

    @field_validator("timestamp", mode="before")
    @classmethod
    def _epoch(cls, value: Any) -> float | None:
        if value is None:
            return None
        if not isinstance(value, (str, int, float)):
            raise ValueError("timestamp must be epoch seconds or ISO-8601 text")
        return epoch_seconds(value)


class FeedbackBatch(BaseModel):
    """Labels to record, each for one row id."""

    model_config = ConfigDict(extra="forbid", strict=True)

    labels: list[LabelIn] = Field(min_length=1, max_length=MAX_LABELS)


class FeedbackCounts(BaseModel):
    """What became of a batch: every label is counted once."""

    accepted: int = Field(description="stored, for a prediction this service recorded")
    duplicates: int = Field(description="ids already labelled (or repeated in the batch): ignored")
    unknown: int = Field(
        description="stored, but this service has no record of the id (not sampled, dropped, "
        "from before a restart or beyond MLSHIP_RECORD_KNOWN_IDS); `mlship monitor` joins "
        "those that were recorded"
    )
