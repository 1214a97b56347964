"""MLflow model registry: versions tagged with their lineage, `challenger`/`champion` aliases."""

from mlship.registry.core import (
    CHALLENGER,
    CHAMPION,
    HISTORY_TAG,
    Registry,
    VersionRow,
)

__all__ = ["CHALLENGER", "CHAMPION", "HISTORY_TAG", "Registry", "VersionRow"]
