"""POST /predict, its body typed by the served model's features."""

# No `from __future__ import annotations`: the /predict body type is built at runtime and
# FastAPI must see the real object in the signature, not a string it cannot resolve.

from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Response

from mlship.serving.dependencies import ServiceDep
from mlship.serving.loading import Result
from mlship.serving.problems import StrictJSONRoute, error_responses
from mlship.serving.routes import json_response
from mlship.serving.schema import RequestModels


def _item(result: Result, index: int) -> dict[str, Any]:
    item: dict[str, Any] = {
        "prediction": result.predictions[index],
        "probability": result.probabilities[index],
    }
    if result.class_probabilities is not None:
        item["probabilities"] = result.class_probabilities[index]
    return item


def predict_router(models: RequestModels) -> APIRouter:
    """The /predict route for the request models of the served model's features."""
    router = APIRouter(tags=["predict"], route_class=StrictJSONRoute)
    body_type: Any = models.body

    @router.post(
        "/predict",
        response_model=models.response,
        responses=error_responses(400, 408, 413, 422, 500, 503),
    )
    async def predict(
        payload: Annotated[body_type, Body()],
        service: ServiceDep,
        x_request_key: Annotated[str | None, Header(max_length=256)] = None,
    ) -> Response:
        """Predict one record, or a batch given as {"records": [...]}."""
        batch = isinstance(payload, models.batch)
        records = list(payload.records) if batch else [payload]
        slot, route, result = await service.predict(records, x_request_key)
        ref = {"model_version": slot.model.version, "model_role": slot.role, "arm": route.arm}
        if batch:
            answer = {**ref, "predictions": [_item(result, i) for i in range(len(records))]}
            return json_response(answer)
        return json_response({**ref, **_item(result, 0)})

    return router
