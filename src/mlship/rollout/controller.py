"""Step a canary on the live service, judge each window, then promote or roll back.

The service (`mlship serve`) loads `models:/<name>@champion` and `models:/<name>@challenger`;
the controller moves traffic with its admin API, reads `/metrics` at the start and end of each
observation window and compares the challenger's figures over the window with the champion's
over the whole rollout so far (at 100 % the champion gets no new traffic).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from mlship.config import LIVE_METRICS, Params
from mlship.errors import MlshipError, RolloutError, ServiceRefused
from mlship.monitoring.live_check import role_metric
from mlship.registry.core import CHALLENGER, CHAMPION, Registry
from mlship.rollout.client import ServiceClient, loaded_version
from mlship.rollout.observe import MetricNames, RoleFigures, Snapshot, prediction_psi
from mlship.rollout.policy import LiveFigures, RolloutResult, StepReport, judge
from mlship.rollout.run_log import RolloutRun

_POLL_SECONDS = 0.25


class Controller:
    """One rollout of the registry's challenger on one service."""

    def __init__(
        self,
        params: Params,
        registry: Registry,
        service: ServiceClient,
        names: MetricNames = MetricNames(),
        say: Callable[[str], None] = print,
        records: Path | None = None,
    ) -> None:
        """`records` is the service's MLSHIP_RECORD_DIR, read by the performance guard."""
        self.params = params
        self.records = records
        self.started = time.time()
        self.policy = params.rollout
        self.registry = registry
        self.service = service
        self.names = names
        self.say = say

    # -- the rollout ---------------------------------------------------------------------------

    def run(self) -> RolloutResult:
        """Step the canary; promote when every step passes, roll back on the first breach."""
        challenger = self.registry.version_for(CHALLENGER)
        if challenger is None:
            raise RolloutError(f"registry: {self.registry.name!r} has no challenger to roll out")
        champion = self.registry.version_for(CHAMPION)
        if champion is None:
            raise RolloutError(
                f"registry: {self.registry.name!r} has no champion; promote the first version "
                "with `mlship registry promote`"
            )
        self.say(
            f"rollout of {self.registry.name}: challenger version {challenger} against champion "
            f"version {champion} at {self.service.url}, steps {list(self.policy.steps)}%"
        )
        self.started = time.time()
        with RolloutRun(self.params, self.registry.name, champion, challenger) as record:
            unloadable = self._load(champion, challenger)
            if unloadable is not None:
                # A challenger that cannot even load fails before any traffic: a breach.
                reason = f"challenger version {challenger} cannot be loaded: {unloadable}"
                self._reject(challenger)
                record.unloadable()
                record.finish("rolled_back", reason)
                self.say(f"decision: ROLL BACK version {challenger}: {reason}")
                return RolloutResult("rolled_back", champion, challenger, [], reason, record.run_id)
            try:
                reports, breaches = self._steps(record)
            except MlshipError as error:
                self.say(f"rollout aborted: {error}")
                record.finish("rolled_back", f"aborted: {error}")
                try:
                    self._reject(challenger)
                except MlshipError as undo:
                    self.say(f"automatic rollback failed too ({undo}): run `mlship rollout abort`")
                raise
            if breaches:
                self._reject(challenger)
                reason = "; ".join(breaches)
                record.finish("rolled_back", reason)
                self.say(f"decision: ROLL BACK version {challenger}: {reason}")
                return RolloutResult(
                    "rolled_back", champion, challenger, reports, reason, record.run_id
                )
            self._promote(challenger)
            reason = f"all {len(reports)} steps within policy"
            record.finish("promoted", reason)
            self.say(f"decision: PROMOTE version {challenger} to champion ({reason})")
            return RolloutResult("promoted", challenger, challenger, reports, reason, record.run_id)

    def _load(self, champion: str, challenger: str) -> str | None:
        """Reload the service on the registry's two versions; why the challenger cannot load."""
        try:
            description = self.service.reload()
        except ServiceRefused as error:
            if error.status == 409 and error.failed_role == CHALLENGER:
                return str(error)
            raise
        loaded = (loaded_version(description, CHAMPION), loaded_version(description, CHALLENGER))
        if loaded != (champion, challenger):
            raise RolloutError(
                f"the service loaded champion {loaded[0]} and challenger {loaded[1]}, not the "
                f"registry's {champion} and {challenger}: start it with "
                f"MLSHIP_CHAMPION=models:/{self.registry.name}@champion and "
                f"MLSHIP_CHALLENGER=models:/{self.registry.name}@challenger"
            )
        self.say(f"service reloaded: champion {champion}, challenger {challenger}")
        return None

    def _steps(self, record: RolloutRun) -> tuple[list[StepReport], list[str]]:
        reports: list[StepReport] = []
        first = self.service.snapshot(self.names)
        for index, weight in enumerate(self.policy.steps, start=1):
            self.service.canary(weight)
            self.say(f"step {index}: {weight}% of traffic to the challenger")
            report = self._observe(index, weight, first)
            reports.append(report)
            record.step(report)
            self.say(report.line())
            if report.breaches:
                return reports, report.breaches
        return reports, []

    def _observe(self, index: int, weight: int, first: Snapshot) -> StepReport:
        start = self.service.snapshot(self.names)
        began = time.monotonic()
        while True:
            time.sleep(_POLL_SECONDS)
            elapsed = time.monotonic() - began
            now = self.service.snapshot(self.names)
            window = _role(now, CHALLENGER).minus(_role(start, CHALLENGER))
            baseline = _role(now, CHAMPION).minus(_role(first, CHAMPION))
            if elapsed < self.policy.window_seconds:
                continue
            enough = min(window.requests, baseline.requests) >= self.policy.min_requests
            if enough or elapsed >= self.policy.max_window_seconds:
                break
        return StepReport(
            step=index,
            weight=weight,
            seconds=elapsed,
            challenger_requests=window.requests,
            champion_requests=baseline.requests,
            challenger_error_rate=window.error_rate,
            champion_error_rate=baseline.error_rate,
            challenger_p95_ms=window.p95_seconds * 1000,
            champion_p95_ms=baseline.p95_seconds * 1000,
            psi=prediction_psi(baseline, window),
            breaches=judge(window, baseline, self.policy, self._live()),
        )

    def _live(self) -> LiveFigures | None:
        """The guard's metric per role on the labels of this rollout's predictions."""
        if not self.policy.performance_guard:
            return None
        if self.records is None:
            raise RolloutError("rollout.performance_guard is on but no records directory is set")
        metric = self.policy.performance_metric or LIVE_METRICS[self.params.data.task][0]
        figures = role_metric(self.params, self.records, metric, self.started)
        return LiveFigures(figures[CHALLENGER], figures[CHAMPION])

    def _promote(self, challenger: str) -> None:
        promoted = self.registry.promote()
        description = self.service.reload()
        self.service.champion_only()
        serving = loaded_version(description, CHAMPION)
        if serving != promoted:
            raise RolloutError(
                f"registry champion is now version {promoted} but the service serves {serving}"
            )
        self.say(f"registry: version {challenger} is champion; service reloaded, 100% champion")

    def _reject(self, challenger: str) -> None:
        """Weight 0 first (stop the exposure), then clear the alias and unload the challenger."""
        try:
            self.service.champion_only()
        finally:
            self.registry.clear_challenger()
        self.service.reload()
        self.say(
            f"rolled back: all traffic to the champion, challenger alias cleared "
            f"(version {challenger} stays in the registry)"
        )

    # -- manual operations ---------------------------------------------------------------------

    def abort(self) -> str | None:
        """Stop a rollout by hand or after a failed job: champion only, challenger cleared."""
        cleared = self.registry.version_for(CHALLENGER)
        self._reject(cleared or "none")
        return cleared

    def revert(self) -> str:
        """Put the previous champion back in the registry and on the service."""
        version = self.registry.rollback()
        self.service.champion_only()
        description = self.service.reload()
        serving = loaded_version(description, CHAMPION)
        if serving != version:
            raise RolloutError(f"registry champion is version {version}; service serves {serving}")
        self.say(f"reverted: champion is version {version} again, service reloaded")
        return version


def _role(snapshot: Snapshot, role: str) -> RoleFigures:
    return snapshot.get(role, RoleFigures())
