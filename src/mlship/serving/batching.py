"""Micro-batching: concurrent requests to one model share a single pipeline call.

A worker task takes the first queued request and everything already waiting behind it (up to
`max_rows`). When the previous call served more than one request — there is concurrency — it
also waits up to `window` seconds for more. A lone client therefore never waits, and under load
each pipeline call serves many requests. Pipelines run in one dedicated thread per model, with
its OpenMP/BLAS pool limited, so the event loop stays free.
"""

from __future__ import annotations

import asyncio
import contextlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from threadpoolctl import threadpool_limits

from mlship.serving.loading import Result, ServedModel


def _limit_threads(threads: int) -> None:
    # OpenMP's thread count is per calling thread: set it in the worker that predicts.
    threadpool_limits(limits=threads)


@dataclass
class _Job:
    columns: dict[str, list[Any]]
    rows: int
    future: asyncio.Future[Result]


def _merge(jobs: list[_Job]) -> dict[str, list[Any]]:
    if len(jobs) == 1:
        return jobs[0].columns
    return {name: [v for job in jobs for v in job.columns[name]] for name in jobs[0].columns}


def _split(result: Result, jobs: list[_Job]) -> list[Result]:
    parts, start = [], 0
    for job in jobs:
        end = start + job.rows
        probs = result.class_probabilities
        parts.append(
            Result(
                result.predictions[start:end],
                result.probabilities[start:end],
                probs[start:end] if probs is not None else None,
            )
        )
        start = end
    return parts


class Batcher:
    """Scores requests for one model, micro-batched when enabled."""

    def __init__(
        self, model: ServedModel, enabled: bool, window_s: float, max_rows: int, threads: int
    ) -> None:
        self.model = model
        self.enabled = enabled
        self.window_s = window_s
        self.max_rows = max_rows
        self.executor = ThreadPoolExecutor(
            max_workers=1,
            thread_name_prefix=f"mlship-{model.version}",
            initializer=_limit_threads,
            initargs=(threads,),
        )
        self.calls = 0
        self._queue: asyncio.Queue[_Job] = asyncio.Queue()
        self._carry: _Job | None = None
        self._task: asyncio.Task[None] | None = None
        self._last_batch = 1
        self._inflight = 0

    def start(self) -> None:
        """Start the worker on the running loop."""
        if self.enabled and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._work())

    async def stop(self) -> None:
        """Stop the worker, fail queued requests, release the thread."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        while not self._queue.empty():
            job = self._queue.get_nowait()
            if not job.future.done():
                job.future.cancel()
        self.executor.shutdown(wait=False, cancel_futures=True)

    def busy(self) -> bool:
        """Whether requests are queued or being scored."""
        return self._inflight > 0

    async def score(self, columns: dict[str, list[Any]], rows: int) -> Result:
        """Score rows given as columns of plain values."""
        loop = asyncio.get_running_loop()
        self._inflight += 1
        try:
            if not self.enabled or self._task is None:
                self.calls += 1
                return await loop.run_in_executor(self.executor, self.model.score, columns)
            future: asyncio.Future[Result] = loop.create_future()
            self._queue.put_nowait(_Job(columns, rows, future))
            return await future
        finally:
            self._inflight -= 1

    async def _collect(self) -> list[_Job]:
        first = self._carry or await self._queue.get()
        self._carry = None
        jobs, total = [first], first.rows
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (self.window_s if self._last_batch > 1 else 0.0)
        while total < self.max_rows:
            try:
                job = self._queue.get_nowait()
            except asyncio.QueueEmpty:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    job = await asyncio.wait_for(self._queue.get(), remaining)
                except TimeoutError:
                    break
            if total + job.rows > self.max_rows:
                self._carry = job
                break
            jobs.append(job)
            total += job.rows
        return jobs

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            jobs = [job for job in await self._collect() if not job.future.done()]
            if not jobs:
                continue
            self._last_batch = len(jobs)
            self.calls += 1
            try:
                result = await loop.run_in_executor(self.executor, self.model.score, _merge(jobs))
            except Exception as error:  # pylint: disable=broad-exception-caught
                # Handed to each waiting request, which turns it into a counted 500.
                for job in jobs:
                    if not job.future.done():
                        job.future.set_exception(error)
                continue
            for job, part in zip(jobs, _split(result, jobs), strict=True):
                if not job.future.done():
                    job.future.set_result(part)
