"""Traffic split between champion and challenger: sticky per request key, hash-based."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Literal

from mlship.serving.settings import TrafficMode

Role = Literal["champion", "challenger"]
# Names the model a refused /admin/reload could not load (a Role): the rollout controller
# counts an unloadable challenger as a breach and an unloadable champion as an error.
FAILED_ROLE_HEADER = "X-Mlship-Failed-Role"


def bucket(key: str) -> float:
    """A stable position in [0, 100) for a request key: the same key always lands the same."""
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 * 100.0


@dataclass(frozen=True)
class Route:
    """Who answers a request, who shadows it, and the A/B arm if any."""

    answer: Role
    shadow: bool = False
    arm: Literal["a", "b"] | None = None


@dataclass(frozen=True)
class TrafficPolicy:
    """The current split. Without a loaded challenger every mode answers with the champion."""

    mode: TrafficMode = "champion"
    canary_weight: float = 0.0

    @property
    def challenger_percent(self) -> float:
        """Share of keyed traffic the challenger answers."""
        return {"champion": 0.0, "shadow": 0.0, "ab": 50.0}.get(self.mode, self.canary_weight)

    def route(self, key: str | None, has_challenger: bool) -> Route:
        """Route one request; without a key it is placed at random."""
        if not has_challenger or self.mode == "champion":
            return Route("champion")
        if self.mode == "shadow":
            return Route("champion", shadow=True)
        position = bucket(key) if key else secrets.randbelow(10_000) / 100.0
        to_challenger = position < self.challenger_percent
        if self.mode == "ab":
            return Route(
                "challenger" if to_challenger else "champion", arm="b" if to_challenger else "a"
            )
        return Route("challenger" if to_challenger else "champion")
