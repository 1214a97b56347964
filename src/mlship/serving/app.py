"""The app factory: the FastAPI service, its routes, error handlers and middleware."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from mlship import __version__
from mlship.errors import MlshipError, ModelError
from mlship.monitoring.recorder import RecordSettings
from mlship.serving.loading import Loaded, read_metadata
from mlship.serving.middleware import BodyLimit, HttpMetrics, RequestBound
from mlship.serving.problems import http_error, internal_error, invalid_request, mlship_error
from mlship.serving.routes import admin, feedback, ops
from mlship.serving.routes.predict import predict_router
from mlship.serving.schema import request_models, same_interface
from mlship.serving.service import Service
from mlship.serving.settings import ServeSettings

# Seconds a client refused by the request bound is told to wait.
RETRY_AFTER_SECONDS = 1


def create_app(settings: ServeSettings | None = None, preloaded: Loaded | None = None) -> FastAPI:
    """Build the service; models load when the app starts (lifespan), unless preloaded.

    /predict's body is typed by the champion's features, so its metadata (model.json, not the
    model) is read here when the champion is not preloaded.
    """
    config = settings or ServeSettings()
    service = Service(config, preloaded)
    meta = (
        preloaded.champion.meta if preloaded else read_metadata(config.champion, config.mlflow_dir)
    )
    models = request_models(meta, config.max_batch)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # Unknown categories are expected in live traffic; the encoder handles them.
        warnings.filterwarnings("ignore", message="Found unknown categories", category=UserWarning)
        await service.start()
        champion = service.champion
        if champion is None:
            raise MlshipError("no champion loaded")
        if not same_interface(champion.model.meta, meta):
            # A registry alias moved between create_app and the load: /predict's types are stale.
            raise ModelError(
                f"champion {champion.model.source} changed its features or classes while the "
                "service started; start it again"
            )
        service.start_recording(RecordSettings())
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
    app.include_router(predict_router(models))
    app.include_router(ops.router)
    app.include_router(admin.router)
    app.include_router(feedback.router)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(MlshipError, mlship_error)
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
