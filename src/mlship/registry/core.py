"""Register, promote and roll back model versions with MLflow aliases and a promotion history.

The history is a JSON list on the registered model (tag `mlship.history`), one entry per
promotion or rollback, so `rollback` knows the previous champion on any backend MLflow supports
(SQLite, a tracking server, PostgreSQL) without a side store.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from mlship.config import Params
from mlship.errors import ParamsError, RegistryError, ReleaseMismatch
from mlship.tracking import use_store

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion

CHAMPION = "champion"
CHALLENGER = "challenger"
HISTORY_TAG = "mlship.history"
PROMOTED_AT_TAG = "mlship.promoted_at"
METRIC_PREFIX = "metric."
_COMMIT = re.compile(r"[0-9a-f]{40}")
_MD5 = re.compile(r"[0-9a-f]{32}")
_LINEAGE = {
    "git_sha": "mlship.git_commit",
    "data_hash": "mlship.data_md5",
    "model_md5": "mlship.model_md5",
}


@dataclass(frozen=True)
class VersionRow:
    """One line of `mlship registry status`."""

    version: str
    aliases: tuple[str, ...]
    created: str
    promoted_at: str
    run_id: str
    metrics: dict[str, float]


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def params_hash(params: dict[str, str]) -> str:
    """A content hash of a run's logged params (order-independent)."""
    text = json.dumps(params, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def champion_stack(history: list[dict[str, Any]]) -> list[str]:
    """Replay the history: promotions push a champion, rollbacks pop one."""
    stack: list[str] = []
    for entry in history:
        if entry.get("action") == "promote":
            stack.append(str(entry["version"]))
        elif entry.get("action") == "rollback" and stack:
            stack.pop()
    return stack


def _error_code(error: Exception) -> str:
    return str(getattr(error, "error_code", ""))


class Registry:
    """One registered model in an MLflow registry."""

    def __init__(self, client: MlflowClient, name: str) -> None:
        self.client = client
        self.name = name

    # -- reading -------------------------------------------------------------------------------

    def _mlflow_error(self) -> type[Exception]:
        from mlflow.exceptions import MlflowException  # pylint: disable=import-outside-toplevel

        return MlflowException

    def exists(self) -> bool:
        """Whether the registered model exists yet."""
        try:
            self.client.get_registered_model(self.name)
        except self._mlflow_error() as error:
            if _error_code(error) == "RESOURCE_DOES_NOT_EXIST":
                return False
            raise RegistryError(f"registry: cannot read model {self.name!r}: {error}") from None
        return True

    def version_for(self, alias: str) -> str | None:
        """The version an alias points at, or None when the alias (or model) is not set."""
        try:
            return str(self.client.get_model_version_by_alias(self.name, alias).version)
        except self._mlflow_error() as error:
            if _error_code(error) in {"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"}:
                return None
            raise RegistryError(f"registry: cannot resolve {self.name}@{alias}: {error}") from None

    def history(self) -> list[dict[str, Any]]:
        """Every promotion and rollback, oldest first."""
        if not self.exists():
            return []
        raw = self.client.get_registered_model(self.name).tags.get(HISTORY_TAG, "[]")
        try:
            entries = json.loads(raw)
        except json.JSONDecodeError:
            raise RegistryError(
                f"registry: tag {HISTORY_TAG!r} on {self.name!r} is not valid JSON"
            ) from None
        if not isinstance(entries, list):
            raise RegistryError(f"registry: tag {HISTORY_TAG!r} on {self.name!r} is not a list")
        return entries

    def _append_history(self, entry: dict[str, Any]) -> None:
        entries = [*self.history(), entry]
        self.client.set_registered_model_tag(self.name, HISTORY_TAG, json.dumps(entries))

    def versions(self) -> list[ModelVersion]:
        """All versions, newest first."""
        if not self.exists():
            return []
        found = self.client.search_model_versions(f"name='{self.name}'")
        return sorted(found, key=lambda v: int(v.version), reverse=True)

    def version_of_run(self, run_id: str) -> str | None:
        """The version already registered from this run, if any."""
        return next((str(v.version) for v in self.versions() if v.run_id == run_id), None)

    def status(self) -> list[VersionRow]:
        """Every version with its aliases, metrics and when it last became champion."""
        rows = []
        # Searched versions do not carry aliases on every store; the registered model does.
        aliases: dict[str, list[str]] = {}
        if self.exists():
            for alias, number in self.client.get_registered_model(self.name).aliases.items():
                aliases.setdefault(str(number), []).append(alias)
        for version in self.versions():
            metrics = {
                key[len(METRIC_PREFIX) :]: float(value)
                for key, value in version.tags.items()
                if key.startswith(METRIC_PREFIX)
            }
            created = datetime.fromtimestamp(version.creation_timestamp / 1000, UTC)
            rows.append(
                VersionRow(
                    version=str(version.version),
                    aliases=tuple(sorted(aliases.get(str(version.version), []))),
                    created=created.strftime("%Y-%m-%d %H:%M:%S"),
                    promoted_at=version.tags.get(PROMOTED_AT_TAG, ""),
                    run_id=str(version.run_id or ""),
                    metrics=metrics,
                )
            )
        return rows

    # -- writing -------------------------------------------------------------------------------

    def latest_run_id(self, experiment: str) -> str:
        """The newest finished run of an experiment."""
        found = self.client.get_experiment_by_name(experiment)
        if found is None:
            raise RegistryError(f"registry: no MLflow experiment named {experiment!r}")
        runs = self.client.search_runs(
            [found.experiment_id],
            filter_string="attributes.status = 'FINISHED'",
            order_by=["attributes.start_time DESC"],
            max_results=1,
        )
        if not runs:
            raise RegistryError(f"registry: experiment {experiment!r} has no finished run")
        return str(runs[0].info.run_id)

    def register(self, run_id: str) -> str:
        """Create a version from a run's logged model, tag its lineage, alias it `challenger`."""
        try:
            run = self.client.get_run(run_id)
        except self._mlflow_error() as error:
            raise RegistryError(f"registry: no run {run_id!r}: {error}") from None
        outputs = run.outputs.model_outputs if run.outputs else []
        if not outputs:
            raise RegistryError(f"registry: run {run_id} logged no model to register")
        model_id = outputs[-1].model_id
        tags: dict[str, str] = {
            name: run.data.tags.get(tag, "unknown") for name, tag in _LINEAGE.items()
        }
        tags["params_hash"] = params_hash(dict(run.data.params))
        tags.update({f"{METRIC_PREFIX}{k}": repr(v) for k, v in sorted(run.data.metrics.items())})
        if not self.exists():
            self.client.create_registered_model(
                self.name, description="Registered by `mlship registry register`."
            )
        version = self.client.create_model_version(
            self.name, source=f"models:/{model_id}", run_id=run_id, tags=tags, model_id=model_id
        )
        number = str(version.version)
        self.client.set_registered_model_alias(self.name, CHALLENGER, number)
        return number

    def promote(self) -> str:
        """Move `champion` to the challenger, record it in the history, clear `challenger`."""
        challenger = self.version_for(CHALLENGER)
        if challenger is None:
            raise RegistryError(f"registry: {self.name!r} has no {CHALLENGER!r} to promote")
        previous = self.version_for(CHAMPION)
        when = _now()
        self.client.set_registered_model_alias(self.name, CHAMPION, challenger)
        self.client.set_model_version_tag(self.name, challenger, PROMOTED_AT_TAG, when)
        self._append_history(
            {"action": "promote", "version": challenger, "previous": previous, "at": when}
        )
        self.client.delete_registered_model_alias(self.name, CHALLENGER)
        return challenger

    def rollback(self) -> str:
        """Point `champion` back at the previous champion from the history."""
        current = self.version_for(CHAMPION)
        if current is None:
            raise RegistryError(f"registry: {self.name!r} has no {CHAMPION!r} to roll back")
        stack = champion_stack(self.history())
        if len(stack) < 2 or stack[-1] != current:
            raise RegistryError(
                f"registry: no previous champion of {self.name!r} to roll back to "
                f"(champion is version {current}; history holds {stack or 'nothing'})"
            )
        target = stack[-2]
        when = _now()
        self.client.set_registered_model_alias(self.name, CHAMPION, target)
        self.client.set_model_version_tag(self.name, target, PROMOTED_AT_TAG, when)
        self.client.set_model_version_tag(self.name, current, "mlship.rolled_back_at", when)
        self._append_history(
            {"action": "rollback", "version": target, "previous": current, "at": when}
        )
        return target

    def release_version(self, experiment: str, commit: str, model_md5: str) -> str:
        """The version built from `commit` whose model file hashes to `model_md5`, as challenger.

        A version already registered with that lineage is reused; else the experiment's finished
        run with those tags is registered. Anything else is refused: a release canaries the
        tagged commit's model and the image's bytes, never whatever `challenger` held before.

        Raises:
            ReleaseMismatch: no version or run has that commit and md5 (the reason says which).
        """
        if not _COMMIT.fullmatch(commit):
            raise ParamsError(f"release: commit must be 40 hex digits, got {commit!r}")
        if not _MD5.fullmatch(model_md5):
            raise ParamsError(f"release: model md5 must be 32 hex digits, got {model_md5!r}")
        same_commit = [v for v in self.versions() if v.tags.get("git_sha") == commit]
        found = next((v for v in same_commit if v.tags.get("model_md5") == model_md5), None)
        if found is not None:
            number = str(found.version)
            self.client.set_registered_model_alias(self.name, CHALLENGER, number)
            return number
        runs = self._runs_of(experiment, commit)
        matching = [run for run in runs if run.data.tags.get(_LINEAGE["model_md5"]) == model_md5]
        if matching:
            return self.register(str(matching[0].info.run_id))
        built = sorted(
            {f"version {v.version}: {v.tags.get('model_md5')}" for v in same_commit}
            | {f"run {r.info.run_id}: {r.data.tags.get(_LINEAGE['model_md5'])}" for r in runs}
        )
        if built:
            raise ReleaseMismatch(
                f"release: the image's model has md5 {model_md5}, but what {self.name!r} and "
                f"experiment {experiment!r} hold from commit {commit[:12]} hashes otherwise "
                f"({'; '.join(built)}): the image is not that commit's model (a rebuild that is "
                "not byte-identical; `mlship reproduce VERSION` shows what differs)"
            )
        raise ReleaseMismatch(
            f"release: no version of {self.name!r} and no finished run of experiment "
            f"{experiment!r} was built from commit {commit[:12]}: train that commit with the "
            "shared registry (train.yml on main, or `make repro` with MLFLOW_TRACKING_URI set) "
            "before tagging it"
        )

    def _runs_of(self, experiment: str, commit: str) -> list[Any]:
        found = self.client.get_experiment_by_name(experiment)
        if found is None:
            return []
        runs: list[Any] = self.client.search_runs(
            [found.experiment_id],
            filter_string=(
                f"tags.`{_LINEAGE['git_sha']}` = '{commit}' and attributes.status = 'FINISHED'"
            ),
            order_by=["attributes.start_time DESC"],
        )
        return runs

    def clear_challenger(self) -> str | None:
        """Remove the `challenger` alias (a rejected rollout); return the version it held."""
        version = self.version_for(CHALLENGER)
        if version is not None:
            self.client.delete_registered_model_alias(self.name, CHALLENGER)
        return version


def connect(params: Params) -> Registry:
    """A Registry on the configured tracking store (MLFLOW_TRACKING_URI or embedded SQLite)."""
    from mlflow import MlflowClient  # pylint: disable=import-outside-toplevel  # slow import

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    uri = use_store(params.paths.mlflow_dir)
    return Registry(MlflowClient(tracking_uri=uri, registry_uri=uri), params.registry.model_name)
