"""The HTTP client of the service's ops and admin endpoints, as the rollout controller uses them."""

from __future__ import annotations

import time
from typing import Any

import httpx

from mlship.errors import RolloutError, ServiceRefused
from mlship.rollout.observe import MetricNames, Snapshot, parse_metrics
from mlship.serving.traffic import FAILED_ROLE_HEADER

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


def loaded_version(description: dict[str, Any], role: str) -> str | None:
    """The version the service's /model answer says `role` serves, or None."""
    slot = description.get(role)
    return str(slot["version"]) if isinstance(slot, dict) else None
