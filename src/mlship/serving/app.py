"""The FastAPI model service: champion (and challenger) loaded in lifespan, traffic modes."""

# No `from __future__ import annotations`: the /predict body type is built at runtime and
# FastAPI must see the real object in the signature, not a string it cannot resolve.

import asyncio
import contextlib
import gc
import logging
import secrets
import time
import warnings
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body, Depends, FastAPI, Header, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from mlship import __version__
from mlship.errors import MlshipError, ModelError
from mlship.monitoring.recorder import Recorder, RecordSettings
from mlship.serving.batching import Batcher
from mlship.serving.loading import Loaded, LoadFailed, Result, ServedModel, load_models
from mlship.serving.metrics import ServiceMetrics
from mlship.serving.middleware import BodyLimit, HttpMetrics
from mlship.serving.problems import (
    StrictJSONRoute,
    error_responses,
    http_error,
    internal_error,
    invalid_request,
)
from mlship.serving.schema import RequestModels, request_models
from mlship.serving.settings import ServeSettings, TrafficMode
from mlship.serving.traffic import FAILED_ROLE_HEADER, Role, Route, TrafficPolicy

log = logging.getLogger("mlship.serving")

_DRAIN_SECONDS = 5.0


@dataclass
class Slot:
    """A loaded model, its batcher and when it was loaded."""

    batcher: Batcher
    role: Role
    loaded_at: str

    @property
    def model(self) -> ServedModel:
        """The served model."""
        return self.batcher.model

    def describe(self) -> dict[str, Any]:
        """What /model reports for this slot."""
        model = self.model
        return {
            "role": self.role,
            "version": model.version,
            "alias": model.alias,
            "source": model.source,
            "task": model.task,
            "features": model.columns,
            "loaded_at": self.loaded_at,
        }


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


class Service:  # pylint: disable=too-many-instance-attributes  # the app's one state holder
    """Everything a request needs; one per app."""

    def __init__(self, settings: ServeSettings, preloaded: Loaded | None = None) -> None:
        self.settings = settings
        # Models `mlship serve` loaded before starting, so a bad source fails in one line.
        self.preloaded = preloaded
        self.champion_source = settings.champion
        self.challenger_source = settings.challenger
        self.policy = TrafficPolicy(settings.traffic, settings.canary_weight)
        self.champion: Slot | None = None
        self.challenger: Slot | None = None
        # Why the challenger source gave no model when the service started (None: it did).
        self.challenger_error: str | None = None
        self.metrics: ServiceMetrics | None = None
        self.models: RequestModels | None = None
        # Live recording for `mlship monitor` (MLSHIP_RECORD_*); None when disabled.
        self.recorder: Recorder | None = None
        self.reload_lock = asyncio.Lock()
        self.background: set[asyncio.Task[None]] = set()

    # -- loading -------------------------------------------------------------------------------

    def _slot(self, model: ServedModel, role: Role) -> Slot:
        settings = self.settings
        batcher = Batcher(
            model,
            enabled=settings.micro_batch,
            window_s=settings.batch_window_ms / 1000.0,
            max_rows=settings.max_batch,
            threads=settings.threads,
        )
        batcher.start()
        return Slot(batcher, role, datetime.now(UTC).isoformat(timespec="seconds"))

    async def start(self) -> None:
        """Load the configured sources (or take preloaded ones), leaving out a bad challenger."""
        loaded, self.preloaded = self.preloaded, None
        if loaded is None:
            loaded = await asyncio.to_thread(
                load_models,
                self.champion_source,
                self.challenger_source,
                self.settings.mlflow_dir,
                True,
            )
        if loaded.challenger_error:
            log.warning(
                "challenger not loaded, serving the champion alone: %s", loaded.challenger_error
            )
        self._swap(loaded)

    async def load(self, champion_source: str, challenger_source: str | None) -> None:
        """Load both sources off the event loop and swap them in, or change nothing.

        The sources are kept only once their models loaded, so a later reload without a body
        uses the last sources that worked.
        """
        loaded = await asyncio.to_thread(
            load_models, champion_source, challenger_source, self.settings.mlflow_dir
        )
        current = self.champion
        if current is not None and loaded.champion.feature_schema != current.model.feature_schema:
            raise LoadFailed(
                "champion",
                ModelError(
                    f"champion {champion_source} takes other features than the served one; "
                    "restart the service"
                ),
            )
        self._swap(loaded)
        self.champion_source, self.challenger_source = champion_source, challenger_source

    def _swap(self, loaded: Loaded) -> None:
        champion, challenger = loaded.champion, loaded.challenger
        self.challenger_error = loaded.challenger_error
        old = [self.champion, self.challenger]
        self.champion = self._slot(champion, "champion")
        self.challenger = self._slot(challenger, "challenger") if challenger else None
        if self.metrics is None:
            self.metrics = ServiceMetrics(champion.task)
        self.metrics.info.clear()
        for slot in (self.champion, self.challenger):
            if slot is not None:
                self.metrics.info.labels(slot.role, slot.model.version, slot.model.source).set(1)
        self._publish_weight()
        # Loaded models and libraries live as long as the process. Keep them out of the cyclic
        # GC's full passes, which otherwise paused every request for ~200 ms about once a second
        # under load (refcounting still frees a retired model).
        gc.freeze()
        for slot in old:
            if slot is not None:
                task = asyncio.get_running_loop().create_task(self._retire(slot))
                self.background.add(task)
                task.add_done_callback(self.background.discard)
        log.info(
            "serving champion %s%s",
            champion.version,
            f", challenger {challenger.version}" if challenger else "",
        )

    async def _retire(self, slot: Slot) -> None:
        # Requests already queued on the old model finish before its worker stops.
        deadline = time.monotonic() + _DRAIN_SECONDS
        while slot.batcher.busy() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        await slot.batcher.stop()

    async def close(self) -> None:
        """Stop the workers."""
        for task in list(self.background):
            task.cancel()
        for slot in (self.champion, self.challenger):
            if slot is not None:
                await slot.batcher.stop()
        self.champion = self.challenger = None
        if self.recorder is not None:
            await asyncio.to_thread(self.recorder.close)
            self.recorder = None

    def _publish_weight(self) -> None:
        if self.metrics is not None:
            live = self.challenger is not None
            self.metrics.weight.set(self.policy.challenger_percent if live else 0.0)

    def set_traffic(self, update: TrafficUpdate) -> None:
        """Apply a new split."""
        if update.mode != "champion" and self.challenger is None:
            raise HTTPException(409, f"traffic mode {update.mode!r} needs a loaded challenger")
        self.policy = TrafficPolicy(update.mode, update.canary_weight)
        self._publish_weight()
        log.info("traffic: %s, challenger %.1f%%", update.mode, self.policy.challenger_percent)

    def describe(self) -> dict[str, Any]:
        """Versions, aliases and the traffic split."""
        return {
            "champion": self.champion.describe() if self.champion else None,
            "challenger": self.challenger.describe() if self.challenger else None,
            "challenger_error": self.challenger_error,
            "traffic": {
                "mode": self.policy.mode,
                "canary_weight": self.policy.canary_weight,
                "challenger_percent": (
                    self.policy.challenger_percent if self.challenger is not None else 0.0
                ),
            },
            "micro_batch": {
                "enabled": self.settings.micro_batch,
                "window_ms": self.settings.batch_window_ms,
                "max_batch": self.settings.max_batch,
            },
        }

    # -- scoring -------------------------------------------------------------------------------

    async def score(self, slot: Slot, columns: dict[str, list[Any]], rows: int) -> Result:
        """Score through a slot's batcher, recording the model's metrics."""
        metrics = self.metrics
        if metrics is None:
            raise HTTPException(503, "model not loaded")
        labels = (slot.role, slot.model.version)
        start = time.perf_counter()
        try:
            result = await slot.batcher.score(columns, rows)
        except Exception:
            metrics.errors.labels(*labels).inc()
            raise
        finally:
            metrics.requests.labels(*labels).inc()
            metrics.latency.labels(*labels).observe(time.perf_counter() - start)
        observed = result.probabilities if slot.model.task != "regression" else result.predictions
        histogram = metrics.values.labels(*labels)
        for value in observed:
            if value is not None:
                histogram.observe(value)
        metrics.rows.labels(*labels).inc(rows)
        return result

    async def _shadow(self, columns: dict[str, list[Any]], rows: int) -> None:
        slot = self.challenger
        if slot is None:
            return
        try:
            await self.score(slot, columns, rows)
        except Exception as error:  # pylint: disable=broad-exception-caught
            # Counted in mlship_predict_errors by score(); a shadow never fails the request.
            log.error("shadow challenger %s failed: %.300r", slot.model.version, error)

    async def predict(
        self, records: list[BaseModel], key: str | None
    ) -> tuple[Slot, Route, Result]:
        """Route, score (and shadow), returning who answered and what."""
        champion = self.champion
        if champion is None:
            raise HTTPException(503, "model not loaded")
        route = self.policy.route(key, self.challenger is not None)
        slot = self.challenger if route.answer == "challenger" and self.challenger else champion
        names = champion.model.columns
        rows = [record.__dict__ for record in records]
        columns = {name: [row[name] for row in rows] for name in names}
        if route.shadow:
            task = asyncio.get_running_loop().create_task(self._shadow(columns, len(rows)))
            self.background.add(task)
            task.add_done_callback(self.background.discard)
        try:
            result = await self.score(slot, columns, len(rows))
        except Exception as error:  # pylint: disable=broad-exception-caught
            # One line, not a traceback: an erroring model would otherwise flood the log.
            log.error("model %s failed to predict: %.300r", slot.model.version, error)
            raise HTTPException(
                500, f"model version {slot.model.version} failed to predict"
            ) from None
        if self.recorder is not None:
            # A put_nowait on a bounded queue: a full queue drops the record, never the request.
            observed = [
                p if p is not None else v for p, v in zip(result.probabilities, result.predictions)
            ]
            self.recorder.record(slot.role, slot.model.version, columns, observed)
        return slot, route, result


async def get_service(request: Request) -> Service:
    """The app's Service (async: FastAPI runs a sync dependency in a worker thread)."""
    service: Service = request.app.state.service
    return service


ServiceDep = Annotated[Service, Depends(get_service)]
_bearer = HTTPBearer(auto_error=False, description="MLSHIP_ADMIN_TOKEN")


def require_admin(
    service: ServiceDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Allow only `Authorization: Bearer <MLSHIP_ADMIN_TOKEN>`: 401 without, 403 wrong."""
    if credentials is None:
        raise HTTPException(
            401,
            "admin endpoints need Authorization: Bearer <token>",
            {"WWW-Authenticate": "Bearer"},
        )
    token = service.settings.admin_token
    expected = token.get_secret_value() if token is not None else ""
    # Bytes: compare_digest refuses a str with non-ASCII characters (a client's `Bearer é`).
    given = credentials.credentials.encode("utf-8", "surrogateescape")
    if not expected or not secrets.compare_digest(given, expected.encode("utf-8")):
        raise HTTPException(403, "invalid admin token")


AdminDep = Annotated[None, Depends(require_admin)]


def _json(payload: Any, status: int = 200) -> Response:
    content = orjson.dumps(payload)  # pylint: disable=no-member  # C extension
    return Response(content, status_code=status, media_type="application/json")


def _item(result: Result, index: int) -> dict[str, Any]:
    item: dict[str, Any] = {
        "prediction": result.predictions[index],
        "probability": result.probabilities[index],
    }
    if result.class_probabilities is not None:
        item["probabilities"] = result.class_probabilities[index]
    return item


def predict_router(models: RequestModels) -> APIRouter:
    """The /predict route, its body typed by the served model's features."""
    router = APIRouter(tags=["predict"], route_class=StrictJSONRoute)
    body_type: Any = models.body

    @router.post(
        "/predict",
        response_model=models.response,
        responses=error_responses(400, 413, 422, 500, 503),
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
            return _json({**ref, "predictions": [_item(result, i) for i in range(len(records))]})
        return _json({**ref, **_item(result, 0)})

    return router


def _base_router() -> APIRouter:
    router = APIRouter(route_class=StrictJSONRoute)

    @router.get("/health", tags=["ops"])
    async def health() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    # Load balancers and uptime probes check liveness with HEAD.
    @router.head("/health", tags=["ops"], response_class=Response)
    async def health_head() -> Response:
        """Liveness without a body."""
        return Response(media_type="application/json")

    @router.get("/ready", tags=["ops"], responses=error_responses(503))
    async def ready(service: ServiceDep) -> Response:
        """Readiness: the champion is loaded and can predict."""
        if service.champion is None:
            return _json({"ready": False}, 503)
        return _json({"ready": True, "champion": service.champion.model.version})

    @router.get("/model", tags=["ops"])
    async def model(service: ServiceDep) -> dict[str, Any]:
        """Loaded versions, their aliases and sources, the traffic split."""
        return service.describe()

    @router.get("/metrics", tags=["ops"], response_class=Response)
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

    admin_errors = error_responses(400, 401, 403, 409, 413, 422)

    @router.post("/admin/traffic", tags=["admin"], responses=admin_errors)
    async def traffic(update: TrafficUpdate, service: ServiceDep, _: AdminDep) -> dict[str, Any]:
        """Change the traffic split (admin token)."""
        service.set_traffic(update)
        return service.describe()

    @router.post("/admin/reload", tags=["admin"], responses=admin_errors)
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

    return router


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
        record = RecordSettings()
        if record.enabled:
            service.recorder = Recorder(record).start()
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
    app.include_router(_base_router())
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, internal_error)

    def count(method: str, path: str, status: int) -> None:
        if service.metrics is not None:
            service.metrics.http.labels(method, path, str(status)).inc()

    app.add_middleware(BodyLimit, max_bytes=config.max_body_bytes)
    app.add_middleware(HttpMetrics, count=count)
    return app
