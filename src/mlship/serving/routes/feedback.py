"""POST /feedback (its own bearer token): the ground truth of recorded predictions."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from mlship.monitoring.labels import FeedbackBusy, Label
from mlship.serving.dependencies import FeedbackDep
from mlship.serving.feedback_bodies import FeedbackBatch, FeedbackCounts
from mlship.serving.problems import ErrorBody, StrictJSONRoute, error_responses

# Seconds a caller refused by a full queue is told to wait.
RETRY_AFTER_SECONDS = 1

router = APIRouter(
    tags=["feedback"],
    route_class=StrictJSONRoute,
    responses={
        **error_responses(400, 408, 413, 422),
        401: {"model": ErrorBody, "description": "no feedback token"},
        403: {"model": ErrorBody, "description": "wrong feedback token"},
        404: {
            "model": ErrorBody,
            "description": "feedback is off: MLSHIP_FEEDBACK_TOKEN unset or recording disabled",
        },
        503: {
            "model": ErrorBody,
            "description": "the write queue is full (Retry-After); nothing of the batch was stored",
        },
    },
)


@router.post("/feedback")
async def feedback(body: FeedbackBatch, store: FeedbackDep) -> FeedbackCounts:
    """Record the true labels of predictions by their `request_id` (feedback token).

    Idempotent per id: the first label of an id is kept, later ones are counted as duplicates.
    """
    labels = [Label(item.id, item.label, item.timestamp) for item in body.labels]
    try:
        counts = store.add(labels)
    except FeedbackBusy:
        raise HTTPException(
            503,
            "feedback queue full, nothing of the batch was stored; retry",
            {"Retry-After": str(RETRY_AFTER_SECONDS)},
        ) from None
    return FeedbackCounts(
        accepted=counts.accepted, duplicates=counts.duplicates, unknown=counts.unknown
    )
