"""The mlship exception tree: every expected failure is an MlshipError with a message for people."""


class MlshipError(Exception):
    """Base of every error mlship raises on purpose; its message is shown to the user as is."""

    exit_code = 1


class ParamsError(MlshipError):
    """params.yaml (or a schema file) is missing, malformed, or holds an unknown or invalid key."""

    exit_code = 2


class DataError(MlshipError):
    """A data file cannot be read or lacks what the params say it has."""

    exit_code = 3


class SchemaViolation(DataError):
    """Data breaks its contract; the message lists every violation."""


class ModelError(MlshipError):
    """A model cannot be trained, loaded or asked to predict."""

    exit_code = 4


class GateFailed(MlshipError):
    """The candidate model is worse than the policy allows."""

    exit_code = 5


class DriftDetected(MlshipError):
    """Current data drifted from the reference beyond the configured thresholds."""

    exit_code = 6


class RegistryError(MlshipError):
    """The model registry refused an operation or lacks the version or alias asked for."""

    exit_code = 7


class DataUnavailable(DataError):
    """The bytes a commit's .dvc file pins are not here and cannot be fetched or regenerated."""

    exit_code = 8
