"""Step a canary on the live service, judge each window, then promote or roll back.

The service (`mlship serve`) loads `models:/<name>@champion` and `models:/<name>@challenger`;
the controller moves traffic with its admin API, reads `/metrics` at the start and end of each
observation window and compares the challenger's figures over the window with the champion's
over the whole rollout so far (at 100 % the champion gets no new traffic).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import httpx

from mlship.config import Params, RolloutParams
from mlship.errors import MlshipError, RolloutError, ServiceRefused
from mlship.registry.core import CHALLENGER, CHAMPION, Registry
from mlship.rollout.observe import (
    MetricNames,
    RoleFigures,
    Snapshot,
    parse_metrics,
    prediction_psi,
)
from mlship.serving.traffic import FAILED_ROLE_HEADER
from mlship.tracking import use_experiment

Decision = Literal["promoted", "rolled_back"]
_POLL_SECONDS = 0.25


@dataclass
class StepReport:
    """What one canary step observed and why it passed or failed."""

    step: int
    weight: int
    seconds: float
    challenger_requests: float
    champion_requests: float
    challenger_error_rate: float
    champion_error_rate: float
    challenger_p95_ms: float
    champion_p95_ms: float
    psi: float
    breaches: list[str] = field(default_factory=list)

    def line(self) -> str:
        """One printable line."""
        verdict = "BREACH: " + "; ".join(self.breaches) if self.breaches else "pass"
        return (
            f"step {self.step} ({self.weight}% to challenger, {self.seconds:.1f}s): "
            f"requests challenger={self.challenger_requests:.0f} "
            f"champion={self.champion_requests:.0f}, "
            f"error rate {self.challenger_error_rate:.2%} vs {self.champion_error_rate:.2%}, "
            f"p95 {self.challenger_p95_ms:.1f}ms vs {self.champion_p95_ms:.1f}ms, "
            f"PSI {self.psi:.3f} -> {verdict}"
        )

    def metrics(self) -> dict[str, float]:
        """Numeric fields for MLflow."""
        out = {k: float(v) for k, v in asdict(self).items() if isinstance(v, (int, float))}
        out["breached"] = float(bool(self.breaches))
        return out


@dataclass
class RolloutResult:
    """How a rollout ended."""

    decision: Decision
    champion: str
    challenger: str
    steps: list[StepReport]
    reason: str
    run_id: str | None = None


def judge(challenger: RoleFigures, champion: RoleFigures, policy: RolloutParams) -> list[str]:
    """Every way the challenger's window breaches the policy (empty: the step passes)."""
    breaches = []
    for role, figures in (("challenger", challenger), ("champion", champion)):
        if figures.requests < policy.min_requests:
            breaches.append(
                f"{role} answered {figures.requests:.0f} requests, fewer than "
                f"min_requests={policy.min_requests}"
            )
    if breaches:
        return breaches
    increase = challenger.error_rate - champion.error_rate
    if increase > policy.max_error_rate_increase:
        breaches.append(
            f"error rate {challenger.error_rate:.2%} exceeds the champion's "
            f"{champion.error_rate:.2%} by more than {policy.max_error_rate_increase:.2%}"
        )
    base = champion.p95_seconds
    allowed = max(base * policy.max_p95_ratio, base + policy.p95_slack_ms / 1000.0)
    if challenger.p95_seconds > allowed:
        breaches.append(
            f"p95 latency {challenger.p95_seconds * 1000:.1f}ms exceeds the allowed "
            f"{allowed * 1000:.1f}ms (champion {base * 1000:.1f}ms)"
        )
    shift = prediction_psi(champion, challenger)
    if shift > policy.max_psi:
        breaches.append(f"prediction PSI {shift:.3f} exceeds max_psi={policy.max_psi}")
    return breaches


# Answers worth asking again: the service (or a proxy before it) is restarting or overloaded.
_TRANSIENT = frozenset({502, 503, 504})


class ServiceClient:
    """The service's ops and admin endpoints.

    Reads (GET) are retried on a transport error or a 502/503/504, `retries` times with
    doubling pauses from `backoff` seconds (1 + 2 s by default); a POST is sent once, since
    repeating a traffic change or a reload that may have happened is not safe to assume.
    """

    def __init__(
        self,
        url: str,
        token: str,
        timeout: float = 30.0,
        retries: int = 2,
        backoff: float = 1.0,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise RolloutError(f"service URL must start with http:// or https://, got {url!r}")
        self.url = url.rstrip("/")
        self.retries = retries
        self.backoff = backoff
        self.http = httpx.Client(
            base_url=self.url,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            headers={"Authorization": f"Bearer {token}"},
        )

    def close(self) -> None:
        """Close the connection pool."""
        self.http.close()

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        attempts = 1 + (self.retries if method == "GET" else 0)
        for attempt in range(attempts):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            last = attempt == attempts - 1
            try:
                response = self.http.request(method, path, json=body)
            except httpx.HTTPError as error:
                if last:
                    raise RolloutError(f"{method} {self.url}{path}: {error}") from None
                continue
            if response.status_code in _TRANSIENT and not last:
                continue
            break
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            raise ServiceRefused(
                f"{method} {self.url}{path}: HTTP {response.status_code}: {str(detail)[:300]}",
                response.status_code,
                response.headers.get(FAILED_ROLE_HEADER),
            )
        return response

    def model(self) -> dict[str, Any]:
        """What /model reports: loaded versions and the traffic split."""
        payload: dict[str, Any] = self._call("GET", "/model").json()
        return payload

    def snapshot(self, names: MetricNames) -> Snapshot:
        """Parse /metrics into per-role figures."""
        return parse_metrics(self._call("GET", "/metrics").text, names)

    def canary(self, weight: float) -> None:
        """Send `weight` percent of keyed traffic to the challenger."""
        self._call("POST", "/admin/traffic", {"mode": "canary", "canary_weight": weight})

    def champion_only(self) -> None:
        """Send every request to the champion."""
        self._call("POST", "/admin/traffic", {"mode": "champion", "canary_weight": 0.0})

    def reload(self) -> dict[str, Any]:
        """Reload both models from the registry aliases."""
        payload: dict[str, Any] = self._call("POST", "/admin/reload").json()
        return payload


def _loaded_version(description: dict[str, Any], role: str) -> str | None:
    slot = description.get(role)
    return str(slot["version"]) if isinstance(slot, dict) else None


class Controller:
    """One rollout of the registry's challenger on one service."""

    def __init__(
        self,
        params: Params,
        registry: Registry,
        service: ServiceClient,
        names: MetricNames = MetricNames(),
        say: Callable[[str], None] = print,
    ) -> None:
        self.params = params
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
        with _MlflowRun(self.params, self.registry.name, champion, challenger) as record:
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
        loaded = (_loaded_version(description, CHAMPION), _loaded_version(description, CHALLENGER))
        if loaded != (champion, challenger):
            raise RolloutError(
                f"the service loaded champion {loaded[0]} and challenger {loaded[1]}, not the "
                f"registry's {champion} and {challenger}: start it with "
                f"MLSHIP_CHAMPION=models:/{self.registry.name}@champion and "
                f"MLSHIP_CHALLENGER=models:/{self.registry.name}@challenger"
            )
        self.say(f"service reloaded: champion {champion}, challenger {challenger}")
        return None

    def _steps(self, record: _MlflowRun) -> tuple[list[StepReport], list[str]]:
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
            breaches=judge(window, baseline, self.policy),
        )

    def _promote(self, challenger: str) -> None:
        promoted = self.registry.promote()
        description = self.service.reload()
        self.service.champion_only()
        serving = _loaded_version(description, CHAMPION)
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
        serving = _loaded_version(description, CHAMPION)
        if serving != version:
            raise RolloutError(f"registry champion is version {version}; service serves {serving}")
        self.say(f"reverted: champion is version {version} again, service reloaded")
        return version


def _role(snapshot: Snapshot, role: str) -> RoleFigures:
    return snapshot.get(role, RoleFigures())


class _MlflowRun:
    """One MLflow run per rollout in the `rollout.experiment` experiment."""

    def __init__(self, params: Params, model: str, champion: str, challenger: str) -> None:
        self.params = params
        self.tags = {"mlship.model": model, "mlship.kind": "rollout"}
        self.logged = {
            "model": model,
            "champion_version": champion,
            "challenger_version": challenger,
            **{k: str(v) for k, v in params.rollout.model_dump().items()},
        }
        self.run_id: str | None = None

    def __enter__(self) -> _MlflowRun:
        # pylint: disable=import-outside-toplevel  # MLflow is slow to import
        import mlflow

        experiment = use_experiment(self.params.rollout.experiment, self.params.paths.mlflow_dir)
        run = mlflow.start_run(experiment_id=experiment, run_name="rollout")
        self.run_id = run.info.run_id
        mlflow.set_tags(self.tags)
        mlflow.log_params(self.logged)
        return self

    def step(self, report: StepReport) -> None:
        """Log one step's figures at MLflow step = the step number."""
        import mlflow  # pylint: disable=import-outside-toplevel

        values = {k: v for k, v in report.metrics().items() if math.isfinite(v)}
        mlflow.log_metrics(values, step=report.step)

    def unloadable(self) -> None:
        """Log a breach before any step: the challenger could not be loaded."""
        import mlflow  # pylint: disable=import-outside-toplevel

        mlflow.log_metrics({"breached": 1.0, "challenger_loaded": 0.0}, step=0)

    def finish(self, decision: Decision, reason: str) -> None:
        """Record the decision."""
        import mlflow  # pylint: disable=import-outside-toplevel

        mlflow.set_tags({"mlship.decision": decision, "mlship.reason": reason[:5000]})

    def __exit__(self, *exc: object) -> None:
        import mlflow  # pylint: disable=import-outside-toplevel

        mlflow.end_run("FINISHED" if exc[0] is None else "FAILED")
