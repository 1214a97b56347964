"""Admin routes (bearer token): change the traffic split, reload the models."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException

from mlship.errors import LoadFailed, MlshipError
from mlship.serving.admin_bodies import ReloadRequest, TrafficUpdate
from mlship.serving.dependencies import AdminDep, ServiceDep
from mlship.serving.problems import StrictJSONRoute, error_responses
from mlship.serving.traffic import FAILED_ROLE_HEADER

log = logging.getLogger("mlship.serving")

router = APIRouter(
    tags=["admin"],
    route_class=StrictJSONRoute,
    responses=error_responses(400, 401, 403, 408, 409, 413, 422, 503),
)

# An OpenAPI link (schemathesis' stateful phase follows it): after a change, /model shows it.
_CHANGED: dict[int | str, dict[str, Any]] = {
    200: {
        "links": {
            "TheServedModels": {
                "operationRef": "#/paths/~1model/get",
                "description": "the models and traffic split now served",
            }
        }
    }
}


@router.post("/admin/traffic", responses=_CHANGED)
async def traffic(update: TrafficUpdate, service: ServiceDep, _: AdminDep) -> dict[str, Any]:
    """Change the traffic split (admin token)."""
    service.set_traffic(update)
    return service.describe()


@router.post("/admin/reload", responses=_CHANGED)
async def reload(
    service: ServiceDep,
    _: AdminDep,
    body: Annotated[ReloadRequest | None, Body()] = None,
) -> dict[str, Any]:
    """Reload models from their sources, re-resolving registry aliases (admin token).

    Either both models load and replace the served ones, or the answer is 409 and the
    served models and their sources stay as they were.
    """
    change = body or ReloadRequest()
    async with service.reload_lock:
        champion = change.champion or service.champion_source
        challenger = change.challenger or service.challenger_source
        if change.drop_challenger:
            challenger = None
        try:
            await service.load(champion, challenger)
        except MlshipError as error:
            log.warning("reload refused: %s", str(error)[:500])
            role = error.role if isinstance(error, LoadFailed) else "champion"
            raise HTTPException(
                409,
                f"reload failed, previous models kept: {error}",
                {FAILED_ROLE_HEADER: role},
            ) from None
        if service.challenger is None and service.policy.mode != "champion":
            service.set_traffic(TrafficUpdate(mode="champion"))
    return service.describe()
