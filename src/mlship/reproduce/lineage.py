"""What a registered version records about its making, and how a rebuild differs from it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from mlship.errors import RegistryError
from mlship.registry.core import METRIC_PREFIX

_UNKNOWN = ("", "unknown")
# The evaluate stage writes metrics.json rounded to this many decimals; MLflow keeps them whole.
METRICS_JSON_DIGITS = 6


@dataclass(frozen=True)
class Lineage:
    """A version's commit, training-data hash, model file md5 and metrics (registry tags)."""

    version: str
    commit: str
    data_md5: str
    model_md5: str
    metrics: dict[str, float]


@dataclass(frozen=True)
class Rebuilt:
    """What rebuilding the commit gave: the same fields, read from the rebuilt outputs."""

    data_md5: str
    model_md5: str
    metrics: dict[str, float]


def lineage_of(version: str, tags: dict[str, str]) -> Lineage:
    """Read a version's lineage from its tags; refuse a version that lacks one."""
    fields = {"commit": "git_sha", "data_md5": "data_hash", "model_md5": "model_md5"}
    missing = [tag for tag in fields.values() if tags.get(tag, "") in _UNKNOWN]
    if missing:
        raise RegistryError(
            f"version {version} records no {', '.join(missing)}: it was not registered from a "
            "tracked pipeline run (`mlship registry register`), so it cannot be rebuilt"
        )
    metrics = {
        key[len(METRIC_PREFIX) :]: float(value)
        for key, value in tags.items()
        if key.startswith(METRIC_PREFIX)
    }
    return Lineage(version, tags["git_sha"], tags["data_hash"], tags["model_md5"], metrics=metrics)


def differences(recorded: Lineage, rebuilt: Rebuilt) -> list[str]:
    """Every way the rebuild differs from what the registry recorded (empty: identical)."""
    found = []
    if rebuilt.model_md5 != recorded.model_md5:
        found.append(f"model file md5: registry {recorded.model_md5}, rebuilt {rebuilt.model_md5}")
    if rebuilt.data_md5 != recorded.data_md5:
        found.append(f"training rows md5: registry {recorded.data_md5}, rebuilt {rebuilt.data_md5}")
    for name in sorted(recorded.metrics.keys() | rebuilt.metrics.keys()):
        before, after = recorded.metrics.get(name), rebuilt.metrics.get(name)
        if before is not None and after is not None:
            same = round(before, METRICS_JSON_DIGITS) == round(after, METRICS_JSON_DIGITS)
        else:
            same = before is after
        if not same:
            found.append(f"metric {name}: registry {_shown(before)}, rebuilt {_shown(after)}")
    return found


def locked_versions(lock: str) -> dict[str, str]:
    """The `name==version` pins of a hashed lock that apply to this interpreter."""
    pins: dict[str, str] = {}
    # A requirement spans continuation lines (`\`) with its `--hash` options.
    for logical in lock.replace("\\\n", " ").splitlines():
        text = logical.split("#", 1)[0].strip()
        if not text or text.startswith("-"):
            continue
        requirement = Requirement(text.split(" --hash", 1)[0])
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        pinned = [spec.version for spec in requirement.specifier if spec.operator == "=="]
        if pinned:
            pins[str(canonicalize_name(requirement.name))] = pinned[0]
    return pins


def environment_differences(
    locked: dict[str, str], installed: Callable[[str], str | None]
) -> list[str]:
    """Each locked package whose installed version (None: absent) is not the lock's."""
    found = []
    for name, version in sorted(locked.items()):
        here = installed(name)
        if here != version:
            found.append(f"environment: {name} locked {version}, here {here or 'not installed'}")
    return found


def _shown(value: float | None) -> str:
    return "absent" if value is None else repr(value)
