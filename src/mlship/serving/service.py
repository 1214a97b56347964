"""The model holder: champion and challenger slots, loading and swapping, scoring, routing."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import HTTPException
from pydantic import BaseModel

from mlship.errors import LoadFailed, ModelError
from mlship.monitoring.labels import FeedbackStore
from mlship.monitoring.recorder import Recorder, RecordSettings
from mlship.serving.admin_bodies import TrafficUpdate
from mlship.serving.batching import Batcher
from mlship.serving.loading import Loaded, Result, ServedModel, load_models
from mlship.serving.metrics import ServiceMetrics
from mlship.serving.settings import ServeSettings
from mlship.serving.traffic import Role, Route, TrafficPolicy

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
        # Live recording for `mlship monitor` (MLSHIP_RECORD_*); None when disabled.
        self.recorder: Recorder | None = None
        # The label store of POST /feedback: needs the recorder and MLSHIP_FEEDBACK_TOKEN.
        self.feedback: FeedbackStore | None = None
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
        if self.feedback is not None:
            await asyncio.to_thread(self.feedback.close)
            self.feedback = None

    def start_recording(self, record: RecordSettings) -> None:
        """Start the recorder and the label store, as far as they are configured."""
        token = self.settings.feedback_token is not None
        if not record.enabled:
            if token:
                log.warning(
                    "MLSHIP_FEEDBACK_TOKEN is set but recording is off: POST /feedback answers "
                    "404 until MLSHIP_RECORD_ENABLED=true"
                )
            return
        recorder = self.recorder = Recorder(record).start()
        if token:
            self.feedback = FeedbackStore(
                record.dir,
                recorder.knows,
                queue_size=record.queue_size,
                max_file_rows=record.max_file_rows,
                remembered=record.known_ids,
            ).start()

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
        self, records: list[BaseModel], key: str | None, request_id: str, batch: bool
    ) -> tuple[Slot, Route, Result]:
        """Route, score (and shadow), record under `request_id`; return who answered and what."""
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
            self.recorder.record(
                slot.role,
                slot.model.version,
                columns,
                observed,
                request_id=request_id,
                batch=batch,
                predicted=result.predictions,
                probabilities=result.class_probabilities,
            )
        return slot, route, result
