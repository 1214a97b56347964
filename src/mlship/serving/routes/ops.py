"""Operations routes: liveness, readiness, what is loaded, Prometheus metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from mlship.serving.dependencies import ServiceDep
from mlship.serving.problems import StrictJSONRoute, error_responses
from mlship.serving.routes import json_response

# Paths the request bound never refuses (see middleware.RequestBound).
UNBOUNDED_PATHS = ("/health", "/metrics")

router = APIRouter(tags=["ops"], route_class=StrictJSONRoute)

# OpenAPI links, followed by schemathesis' stateful phase: what /model reports is what the admin
# endpoints take back, and they must accept it.
_MODEL_LINKS: dict[str, Any] = {
    "ReloadTheServedChampion": {
        "operationRef": "#/paths/~1admin~1reload/post",
        "requestBody": {"champion": "$response.body#/champion/source"},
        "description": "reload the champion from the source it is served from",
    },
    "ReapplyTheTrafficSplit": {
        "operationRef": "#/paths/~1admin~1traffic/post",
        "requestBody": {
            "mode": "$response.body#/traffic/mode",
            "canary_weight": "$response.body#/traffic/canary_weight",
        },
        "description": "set the traffic split that is served",
    },
}


@router.get("/health")
async def health() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


# Load balancers and uptime probes check liveness with HEAD.
@router.head("/health", response_class=Response)
async def health_head() -> Response:
    """Liveness without a body."""
    return Response(media_type="application/json")


@router.get("/ready", responses=error_responses(503))
async def ready(service: ServiceDep) -> Response:
    """Readiness: the champion is loaded and can predict."""
    if service.champion is None:
        return json_response({"ready": False}, 503)
    return json_response({"ready": True, "champion": service.champion.model.version})


@router.get("/model", responses={200: {"links": _MODEL_LINKS}, **error_responses(503)})
async def model(service: ServiceDep) -> dict[str, Any]:
    """Loaded versions, their aliases and sources, the traffic split."""
    return service.describe()


@router.get("/metrics", response_class=Response)
async def metrics(service: ServiceDep) -> Response:
    """Prometheus metrics."""
    if service.metrics is None:
        return Response(b"", media_type=CONTENT_TYPE_LATEST)
    for slot in (service.champion, service.challenger):
        if slot is not None:
            gauge = service.metrics.calls.labels(slot.role, slot.model.version)
            gauge.set(slot.batcher.calls)
    body = generate_latest(service.metrics.registry)
    if service.recorder is not None:
        # The drift gauges `mlship monitor` wrote beside the records (one scrape target).
        body += service.recorder.gauges()
    return Response(body, media_type=CONTENT_TYPE_LATEST)
