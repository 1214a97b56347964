"""The mlship exception tree: every expected failure is an MlshipError with a message for people.

Every command exits with one of the codes of `ExitCode`, and each code has one meaning (the
README's table is this one). An error class names its code; a new class reuses the code of
the failure it is a kind of, or adds one here.
"""

from enum import IntEnum


class ExitCode(IntEnum):
    """The exit codes of every mlship command: one meaning each."""

    OK = 0
    FAILED = 1  # an mlship error of no more specific kind below
    PARAMS = 2  # params.yaml, a schema file, an option or an MLSHIP_* setting is invalid
    DATA = 3  # a data file cannot be read or breaks its contract
    MODEL = 4  # a model cannot be trained, loaded or asked to predict
    GATE_FAILED = 5  # the candidate model is worse than the gate allows
    DRIFT = 6  # current data drifted beyond the thresholds
    MLFLOW = 7  # the MLflow tracking store or model registry is unreachable or refused
    ROLLOUT = 8  # a rollout could not run: no challenger, service unreachable or refusing
    ROLLED_BACK = 9  # a rollout's challenger breached the policy (or could not load)
    METRICS = 10  # the service's /metrics lacks what the rollout controller needs
    GITHUB = 11  # a GitHub API call failed or GitHub's environment is incomplete
    ADDRESS_IN_USE = 12  # `mlship serve` cannot listen: another process holds its port
    DATA_UNAVAILABLE = 13  # the data a .dvc file pins is not here and cannot be fetched or proved
    RELEASE_MISMATCH = 14  # no registered model is the tagged commit's with the image's model bytes
    NOT_REPRODUCED = 15  # a registered version, rebuilt from its lineage, gives other model bytes
    PREPROD_FAILED = 16  # a pre-production check of the staging service failed
    INCOMPARABLE = 17  # main's model cannot score this branch's held-out rows
    BASELINE = 18  # main's (or a registered commit's) outputs could not be rebuilt
    COMMAND = 19  # git or dvc could not run or exited non-zero


class MlshipError(Exception):
    """Base of every error mlship raises on purpose; its message is shown to the user as is."""

    exit_code: int = ExitCode.FAILED


class ParamsError(MlshipError):
    """params.yaml (or a schema file) is missing, malformed, or holds an unknown or invalid key."""

    exit_code = ExitCode.PARAMS


class DataError(MlshipError):
    """A data file cannot be read or lacks what the params say it has."""

    exit_code = ExitCode.DATA


class SchemaViolation(DataError):
    """Data breaks its contract; the message lists every violation."""


class ModelError(MlshipError):
    """A model cannot be trained, loaded or asked to predict."""

    exit_code = ExitCode.MODEL


class GateFailed(MlshipError):
    """The candidate model is worse than the policy allows."""

    exit_code = ExitCode.GATE_FAILED


class Incomparable(MlshipError):
    """Main's model cannot be scored on the pull request's held-out rows (the gate fails closed)."""

    exit_code = ExitCode.INCOMPARABLE


class BaselineError(MlshipError):
    """main's outputs could not be rebuilt."""

    exit_code = ExitCode.BASELINE


class CommandFailed(MlshipError):
    """git or dvc could not run or exited non-zero."""

    exit_code = ExitCode.COMMAND


class DriftDetected(MlshipError):
    """Current data drifted from the reference beyond the configured thresholds."""

    exit_code = ExitCode.DRIFT


class MlflowError(MlshipError):
    """MLflow (its tracking store or its model registry) cannot be reached or refused a call."""

    exit_code = ExitCode.MLFLOW


class RegistryError(MlflowError):
    """The model registry refused an operation or lacks the version or alias asked for."""


class TrackingError(MlflowError):
    """The MLflow tracking store cannot be reached or refused a call."""


class RolloutError(MlshipError):
    """The rollout could not run: no challenger, service unreachable or refusing, bad answer."""

    exit_code = ExitCode.ROLLOUT


class ServiceRefused(RolloutError):
    """The service answered an error status (`failed_role`: the role it says failed, if any)."""

    def __init__(self, message: str, status: int, failed_role: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.failed_role = failed_role


class RolledBack(MlshipError):
    """The challenger breached the policy and was rolled back; the champion still serves."""

    exit_code = ExitCode.ROLLED_BACK


class MetricsError(MlshipError):
    """The service's /metrics page lacks what the rollout controller needs."""

    exit_code = ExitCode.METRICS


class GitHubError(MlshipError):
    """A GitHub API call failed or GitHub's environment is incomplete."""

    exit_code = ExitCode.GITHUB


class AddressInUse(MlshipError):
    """The service cannot listen: another process holds the address and port."""

    exit_code = ExitCode.ADDRESS_IN_USE


class DataUnavailable(DataError):
    """The bytes a commit's .dvc file pins are not here and cannot be fetched or regenerated."""

    exit_code = ExitCode.DATA_UNAVAILABLE


class ReleaseMismatch(RegistryError):
    """The registry holds no version built from the tagged commit with the image's model bytes."""

    exit_code = ExitCode.RELEASE_MISMATCH


class NotReproduced(MlshipError):
    """A registered version rebuilt from its commit, data and environment gives other bytes."""

    exit_code = ExitCode.NOT_REPRODUCED


class PreprodFailed(MlshipError):
    """A pre-production check of the staging service failed; the release stops before production."""

    exit_code = ExitCode.PREPROD_FAILED


class LoadFailed(MlshipError):
    """A model source could not be loaded; `role` says which, message and exit code the cause's."""

    def __init__(self, role: str, cause: MlshipError) -> None:
        super().__init__(str(cause))
        self.role = role
        self.exit_code = cause.exit_code
