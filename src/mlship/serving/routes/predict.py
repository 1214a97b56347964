"""POST /predict, its body typed by the served model's features."""

# No `from __future__ import annotations`: the /predict body type is built at runtime and
# FastAPI must see the real object in the signature, not a string it cannot resolve.

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Response

from mlship.monitoring.recorder import REQUEST_ID_CHARS, REQUEST_ID_PATTERN, row_id
from mlship.serving.dependencies import ServiceDep
from mlship.serving.loading import Result
from mlship.serving.problems import StrictJSONRoute, error_responses
from mlship.serving.routes import json_response
from mlship.serving.schema import RequestModels

REQUEST_ID_HEADER = "X-Request-Id"


def _item(result: Result, index: int, request_id: str) -> dict[str, Any]:
    item: dict[str, Any] = {
        "request_id": request_id,
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
        x_request_key: Annotated[
            str | None,
            Header(
                max_length=REQUEST_ID_CHARS,
                pattern=REQUEST_ID_PATTERN,
                description="sticky routing key, and the answer's request id "
                f"(at most {REQUEST_ID_CHARS} of A-Z a-z 0-9 . _ : -)",
            ),
        ] = None,
    ) -> Response:
        """Predict one record, or a batch given as {"records": [...]}."""
        batch = isinstance(payload, models.batch)
        records = list(payload.records) if batch else [payload]
        request_id = x_request_key or uuid.uuid4().hex
        slot, route, result = await service.predict(records, x_request_key, request_id, batch)
        ref = {"model_version": slot.model.version, "model_role": slot.role, "arm": route.arm}
        headers = {REQUEST_ID_HEADER: request_id}
        if batch:
            items = [_item(result, i, row_id(request_id, True, i)) for i in range(len(records))]
            answer = {**ref, "request_id": request_id, "predictions": items}
            return json_response(answer, headers=headers)
        return json_response({**ref, **_item(result, 0, request_id)}, headers=headers)

    return router
