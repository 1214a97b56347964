"""Request and response models generated from a model's feature schema (model.json)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, create_model

# Bounds keep every accepted number finite through scaling in any model; far beyond real data.
MAX_ABS_NUMBER = 1e15
MAX_TEXT = 1000


class ModelRef(BaseModel):
    """Which model answered."""

    model_version: str
    model_role: Literal["champion", "challenger"]
    arm: Literal["a", "b"] | None = Field(None, description="A/B arm, in traffic mode 'ab'")


class Prediction(BaseModel):
    """One record's prediction."""

    request_id: str = Field(
        description="this row's id, for POST /feedback: the request id, or `<request id>/<index>`"
        " in a batch"
    )
    prediction: str | int | float | bool
    probability: float | None = Field(
        None, description="P(positive class) for binary, top class probability for multiclass"
    )
    probabilities: dict[str, float] | None = Field(
        None, description="class -> probability, multiclass only"
    )


class SinglePrediction(Prediction, ModelRef):
    """The answer to one record."""


class BatchPrediction(ModelRef):
    """The answer to a batch, in request order."""

    request_id: str = Field(description="the caller's X-Request-Key, or a generated id")
    predictions: list[Prediction]


@dataclass(frozen=True)
class RequestModels:
    """The generated models and the request body type that accepts either form."""

    record: type[BaseModel]
    batch: type[BaseModel]
    body: Any
    response: Any = SinglePrediction | BatchPrediction


def _body_kind(value: Any) -> str:
    if isinstance(value, dict) and "records" in value:
        return "batch"
    if isinstance(value, BaseModel) and hasattr(value, "records"):
        return "batch"
    return "record"


def request_models(meta: dict[str, Any], max_batch: int) -> RequestModels:
    """Build `Record` (one field per feature) and `Batch` ({"records": [...]}) models."""
    number = (
        Annotated[float, Field(allow_inf_nan=False, ge=-MAX_ABS_NUMBER, le=MAX_ABS_NUMBER)] | None
    )
    text = Annotated[str, Field(max_length=MAX_TEXT)] | None
    examples = meta.get("input_example") or []
    fields: dict[str, Any] = {name: (number, ...) for name in meta["numeric"]}
    fields.update({name: (text, ...) for name in meta["categorical"]})
    # strict: `true` is not the number 1 (lax pydantic would score it as 1.0).
    config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={"examples": examples[:1]} if examples else None,
    )
    record = create_model("Record", __config__=config, **fields)
    batch = create_model(
        "Batch",
        __config__=ConfigDict(extra="forbid", strict=True),
        records=(list[record], Field(min_length=1, max_length=max_batch)),
    )
    body = Annotated[
        Annotated[record, Tag("record")] | Annotated[batch, Tag("batch")],
        Discriminator(_body_kind),
    ]
    return RequestModels(record, batch, body, response_models(meta))


def response_models(meta: dict[str, Any]) -> Any:
    """The /predict response type; a multiclass model's class names become the keys it lists."""
    if meta.get("task") != "multiclass":
        return SinglePrediction | BatchPrediction
    keys: Any = Literal[tuple(str(name) for name in meta["classes"])]
    annotation: Any = dict[keys, float] | None
    probabilities = (
        annotation,
        Field(None, description="class -> probability, one key per class of the model"),
    )
    prediction = create_model("Prediction", __base__=Prediction, probabilities=probabilities)
    single = create_model(
        "SinglePrediction", __base__=(prediction, ModelRef), __doc__=SinglePrediction.__doc__
    )
    batch = create_model(
        "BatchPrediction", __base__=BatchPrediction, predictions=(list[prediction], ...)
    )
    return single | batch


def _interface(meta: dict[str, Any]) -> tuple[Any, ...]:
    return (meta["numeric"], meta["categorical"], meta["task"], meta.get("classes"))


def same_interface(meta: dict[str, Any], other: dict[str, Any]) -> bool:
    """Whether two models' metadata give the same request and response models."""
    return _interface(meta) == _interface(other)
