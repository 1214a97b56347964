"""The app factory: the FastAPI service, its routes, error handlers and middleware."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from mlship import __version__
from mlship.errors import MlshipError
from mlship.monitoring.recorder import RecordSettings
from mlship.serving.loading import Loaded
from mlship.serving.middleware import BodyLimit, HttpMetrics, RequestBound
from mlship.serving.problems import http_error, internal_error, invalid_request
from mlship.serving.routes import admin, feedback, ops
from mlship.serving.routes.predict import predict_router
from mlship.serving.schema import request_models
from mlship.serving.service import Service
from mlship.serving.settings import ServeSettings

# Seconds a client refused by the request bound is told to wait.
RETRY_AFTER_SECONDS = 1


def create_app(settings: ServeSettings | None = None, preloaded: Loaded | None = None) -> FastAPI:
    """Build the service; models load when the app starts (lifespan), unless preloaded."""
    config = settings or ServeSettings()
    service = Service(config, preloaded)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Unknown categories are expected in live traffic; the encoder handles them.
        warnings.filterwarnings("ignore", message="Found unknown categories", category=UserWarning)
        await service.start()
        champion = service.champion
        if champion is None:
            raise MlshipError("no champion loaded")
        service.models = request_models(champion.model.meta, config.max_batch)
        service.start_recording(RecordSettings())
        # The body type comes from the loaded model's features, known only now.
        app.include_router(predict_router(service.models))
        app.openapi_schema = None
        try:
            yield
        finally:
            await service.close()

    app = FastAPI(
        title="mlship model service",
        version=__version__,
        description="Predictions from the champion model, with canary, shadow and A/B traffic.",
        lifespan=lifespan,
    )
    app.state.service = service
    app.include_router(ops.router)
    app.include_router(admin.router)
    app.include_router(feedback.router)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, internal_error)

    def count(method: str, path: str, status: int) -> None:
        if service.metrics is not None:
            service.metrics.http.labels(method, path, str(status)).inc()

    # The last added runs first: every answer is counted, refused ones included, and a request
    # refused by the bound costs no body reading.
    app.add_middleware(BodyLimit, max_bytes=config.max_body_bytes)
    app.add_middleware(
        RequestBound,
        max_requests=config.max_requests,
        retry_after=RETRY_AFTER_SECONDS,
        exempt=ops.UNBOUNDED_PATHS,
    )
    app.add_middleware(HttpMetrics, count=count)
    return app
