"""Typed, validated params.yaml: one frozen model per section, unknown keys are errors."""

from __future__ import annotations

from pathlib import Path
from collections.abc import Hashable
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mlship.errors import ParamsError

Task = Literal["binary", "multiclass", "regression"]
ModelKind = Literal["linear", "random_forest", "hist_gradient_boosting"]

DEFAULT_PARAMS = Path("params.yaml")

# The metrics each task's evaluation computes (model.metrics and the gate's bootstrap compute
# exactly these; a test holds them equal), so a gate or key metric is checked when params load.
TASK_METRICS: dict[Task, tuple[str, ...]] = {
    "binary": ("roc_auc", "pr_auc", "f1", "precision", "recall", "accuracy", "log_loss", "brier"),
    "multiclass": ("macro_f1", "accuracy", "log_loss"),
    "regression": ("rmse", "mae", "r2"),
}
# The metrics live performance computes from labelled predictions (a subset of TASK_METRICS:
# those the served answer determines; multiclass log loss needs the recorded probabilities).
LIVE_METRICS: dict[Task, tuple[str, ...]] = {
    "binary": ("roc_auc", "log_loss", "precision", "recall"),
    "multiclass": ("accuracy", "macro_f1", "log_loss"),
    "regression": ("mae", "rmse"),
}
# The data files of the plots each task's evaluation writes into `paths.plots_dir` (model.plots);
# dvc.yaml's `plots:` may name only these, or `dvc plots show` fails on a missing file.
TASK_PLOTS: dict[Task, tuple[str, ...]] = {
    "binary": ("roc.csv", "pr.csv", "calibration.csv", "confusion.csv", "importance.csv"),
    "multiclass": ("confusion.csv", "importance.csv"),
    "regression": ("residuals.csv", "importance.csv"),
}


class Section(BaseModel):
    """Base of every params section: immutable, strict about unknown keys."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class PathsParams(Section):
    """Where each stage reads and writes; dvc.yaml templates the same values."""

    validation_dir: Path = Path("reports/validation")
    split_dir: Path = Path("artifacts/split")
    model_dir: Path = Path("artifacts/model")
    eval_dir: Path = Path("artifacts/eval")
    metrics: Path = Path("metrics.json")
    plots_dir: Path = Path("plots")
    mlflow_dir: Path = Path("mlruns")


class DataParams(Section):
    """The dataset: where it is, what to predict, and from which columns."""

    path: Path
    task: Task
    target: str
    id_column: str | None = None
    numeric: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    positive_label: str | int | None = None

    @model_validator(mode="after")
    def _check_columns(self) -> DataParams:
        if not self.numeric and not self.categorical:
            raise ValueError("declare at least one feature in numeric or categorical")
        features = [*self.numeric, *self.categorical]
        duplicated = sorted({c for c in features if features.count(c) > 1})
        if duplicated:
            raise ValueError(f"columns listed twice among features: {duplicated}")
        reserved = {self.target, self.id_column} & set(features)
        if reserved:
            raise ValueError(f"target or id column used as a feature: {sorted(map(str, reserved))}")
        if self.positive_label is not None and self.task != "binary":
            raise ValueError("positive_label applies only to task 'binary'")
        return self

    @property
    def features(self) -> list[str]:
        """Feature columns in model order: numeric first, then categorical."""
        return [*self.numeric, *self.categorical]

    @property
    def is_classification(self) -> bool:
        """Whether the task predicts a class."""
        return self.task != "regression"


class GenerateParams(Section):
    """The bundled example generator (`mlship data`)."""

    rows: int = Field(20_000, ge=100)
    seed: int = 42
    start_month: str = Field("2026-01", pattern=r"^\d{4}-\d{2}$")
    months: int = Field(6, ge=1, le=120)


class ValidateParams(Section):
    """Data contract checks beyond the schema file."""

    schema_file: Path | None = None
    min_rows: int = Field(100, ge=1)
    max_missing_fraction: float = Field(0.5, ge=0.0, le=1.0)
    min_class_fraction: float = Field(0.01, ge=0.0, lt=1.0)
    max_examples: int = Field(5, ge=1, le=100)
    # Rows without a target value: dropped (and counted in the validation report) when true,
    # otherwise each is a violation listed with its row.
    drop_missing_target: bool = False


class SplitParams(Section):
    """Hold-out split."""

    test_size: float = Field(0.2, gt=0.0, lt=1.0)
    seed: int = 42
    stratify: bool = True


class TrainParams(Section):
    """Estimator choice and its hyper-parameters."""

    model: ModelKind = "hist_gradient_boosting"
    seed: int = 42
    hyperparams: dict[str, Any] = Field(default_factory=dict)
    sample_rows: int | None = Field(None, ge=10)
    threads: int = Field(1, ge=1, le=256)


class EvaluateParams(Section):
    """Evaluation settings."""

    threshold: float = Field(0.5, gt=0.0, lt=1.0)
    importance_rows: int = Field(2_000, ge=10)
    importance_repeats: int = Field(3, ge=1)
    seed: int = 42


class GateMetric(Section):
    """One gated metric: an absolute floor and the largest drop versus main that is tolerated."""

    floor: float | None = None
    max_drop: float = Field(0.0, ge=0.0)


class GateParams(Section):
    """The metric gate (`mlship gate`): policy per metric and the paired bootstrap."""

    metrics: dict[str, GateMetric] = Field(default_factory=dict)
    resamples: int = Field(1000, ge=100, le=100_000)
    confidence: float = Field(0.95, gt=0.5, lt=1.0)
    seed: int = 42
    inconclusive: Literal["pass", "fail"] = "fail"
    baseline_dir: Path = Path("reports/baseline")
    out_dir: Path = Path("reports/gate")


class ReportParams(Section):
    """The pull-request report (`mlship report`)."""

    out_dir: Path = Path("reports/pr")
    max_chars: int = Field(65_000, ge=2_000, le=65_536)
    top_categories: int = Field(5, ge=1, le=50)


class TrackingParams(Section):
    """MLflow tracking; MLFLOW_TRACKING_URI overrides the embedded SQLite store."""

    enabled: bool = True
    experiment: str = Field("mlship", min_length=1)


class RegistryParams(Section):
    """MLflow model registry: the registered model name and the metrics `status` shows."""

    model_name: str = Field("churn", min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    key_metrics: tuple[str, ...] = ()


class RolloutParams(Section):
    """Canary rollout (`mlship rollout`): traffic steps and what counts as a breach."""

    steps: tuple[int, ...] = (5, 25, 50, 100)
    window_seconds: float = Field(60.0, gt=0.0)
    max_window_seconds: float = Field(300.0, gt=0.0)
    min_requests: int = Field(50, ge=1)
    max_error_rate_increase: float = Field(0.01, ge=0.0, le=1.0)
    max_p95_ratio: float = Field(1.5, ge=1.0)
    p95_slack_ms: float = Field(25.0, ge=0.0)
    max_psi: float = Field(0.2, gt=0.0)
    experiment: str = Field("mlship-rollouts", min_length=1)
    # The canary's performance guard (off by default: labels rarely arrive within a step):
    # breach when the challenger's live metric is worse than the champion's by more than
    # performance_margin, its bootstrap interval included, on enough labelled rows of each.
    performance_guard: bool = False
    performance_metric: str | None = None  # null: the task's first live metric
    performance_margin: float = Field(0.02, ge=0.0)
    min_labelled_rows: int = Field(100, ge=10)

    @model_validator(mode="after")
    def _check_steps(self) -> RolloutParams:
        if not self.steps or list(self.steps) != sorted(set(self.steps)):
            raise ValueError("steps must be strictly increasing percentages")
        if self.steps[0] < 1 or self.steps[-1] != 100:
            raise ValueError("steps must lie in 1..100 and end at 100")
        if self.max_window_seconds < self.window_seconds:
            raise ValueError("max_window_seconds must be at least window_seconds")
        return self


class DriftSettings(Section):
    """Thresholds and budgets of a drift check; the ``drift:`` section of params.yaml."""

    # Defined here rather than in monitoring.drift so loading params imports no scipy/sklearn.

    alpha: float = Field(0.05, gt=0.0, lt=1.0)
    correction: Literal["holm", "bonferroni", "fdr_bh"] = "holm"
    min_effect: float = Field(0.02, ge=0.0, le=1.0)
    psi_threshold: float = Field(0.2, ge=0.0)
    psi_bins: int = Field(10, ge=2, le=100)
    ks_sample_rows: int | None = Field(200_000, ge=1_000)
    missing_rate_threshold: float = Field(0.05, ge=0.0, le=1.0)
    new_category_share: float = Field(0.01, ge=0.0, le=1.0)
    max_categories: int = Field(50, ge=2, le=250)
    domain_classifier: bool = True
    domain_auc_threshold: float = Field(0.6, ge=0.5, le=1.0)
    domain_sample_rows: int = Field(20_000, ge=100)
    domain_folds: int = Field(3, ge=2, le=10)
    bootstrap: int = Field(200, ge=20)
    performance_drop_threshold: float = Field(0.05, ge=0.0)
    seed: int = 42


class MonitorParams(Section):
    """Live performance from labelled predictions (`mlship monitor`) and its retrain trigger."""

    window_rows: int | None = Field(5_000, ge=10)  # newest labelled rows per version and role
    window_hours: float | None = Field(None, gt=0.0)  # ...and/or predictions this recent
    delay_buckets_hours: tuple[float, ...] = (1.0, 24.0, 168.0)  # label-arrival delay edges
    max_label_delay_hours: float | None = Field(None, gt=0.0)  # later labels count as expired
    metrics: tuple[str, ...] = ()  # empty: every live metric of the task
    performance_margin: float = Field(0.05, ge=0.0)  # tolerated loss versus the training figure
    min_labelled_rows: int = Field(200, ge=10)  # fewer: live performance never triggers
    resamples: int = Field(500, ge=100, le=100_000)
    confidence: float = Field(0.95, gt=0.5, lt=1.0)
    seed: int = 42

    @model_validator(mode="after")
    def _check_buckets(self) -> MonitorParams:
        edges = list(self.delay_buckets_hours)
        if edges != sorted(set(edges)) or any(edge <= 0 for edge in edges):
            raise ValueError("delay_buckets_hours must be strictly increasing positive hours")
        return self


class CostMatrixKpi(Section):
    """Average cost per labelled row of the errors at the decision threshold (binary)."""

    kind: Literal["cost_matrix"]
    false_positive: float = Field(ge=0.0)
    false_negative: float = Field(ge=0.0)
    alert_threshold: float | None = None
    direction: Literal["higher_is_better", "lower_is_better"] = "lower_is_better"


class ValueCapturedKpi(Section):
    """Value per labelled row of acting on the positive predictions at the threshold (binary):
    each true positive earns `true_positive`, each false positive costs `false_positive`."""

    kind: Literal["value_captured"]
    true_positive: float
    false_positive: float = Field(0.0, ge=0.0)
    alert_threshold: float | None = None
    direction: Literal["higher_is_better", "lower_is_better"] = "higher_is_better"


KpiSpec = Annotated[CostMatrixKpi | ValueCapturedKpi, Field(discriminator="kind")]
# Tasks each KPI kind is defined for; params naming another task fail at load.
KPI_TASKS: dict[str, tuple[Task, ...]] = {
    "cost_matrix": ("binary",),
    "value_captured": ("binary",),
}


class RetrainParams(Section):
    """The scheduled retrain loop (`mlship ingest`, `mlship retrain`): batches and decision."""

    batches_dir: Path = Path("data/batches")
    batch_rows: int = Field(2_000, ge=100)
    out_dir: Path = Path("reports/retrain")
    metric: str | None = None
    max_model_age_days: int | None = Field(90, ge=1)
    branch_prefix: str = Field("retrain/", pattern=r"^[A-Za-z0-9._/-]+$")
    base_branch: str = Field("main", pattern=r"^[A-Za-z0-9._/-]+$")


class Params(Section):
    """The whole params.yaml."""

    paths: PathsParams = PathsParams()
    data: DataParams
    generate: GenerateParams = GenerateParams()
    validate_: ValidateParams = Field(ValidateParams(), alias="validate")
    split: SplitParams = SplitParams()
    train: TrainParams = TrainParams()
    evaluate: EvaluateParams = EvaluateParams()
    tracking: TrackingParams = TrackingParams()
    registry: RegistryParams = RegistryParams()
    rollout: RolloutParams = RolloutParams()
    gate: GateParams = GateParams()
    report: ReportParams = ReportParams()
    drift: DriftSettings = DriftSettings()
    retrain: RetrainParams = RetrainParams()
    monitor: MonitorParams = MonitorParams()
    kpi: dict[str, KpiSpec] = Field(default_factory=dict)

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


def _refuse_unknown(
    named: list[tuple[str, str]], known: tuple[str, ...], what: str, source: Path
) -> None:
    """Fail naming each (key, metric) whose metric is not among `known`."""
    wrong = [f"'{key}'" for key, name in named if name not in known]
    if wrong:
        raise ParamsError(
            f"{source}: {', '.join(wrong)}: not {what}; valid choices: {', '.join(known)}"
        )


def _check_metrics_fit_task(params: Params, source: Path) -> None:
    """Fail naming each gate, key, retrain or live metric, or KPI, the task does not compute."""
    task = params.data.task
    named = [(f"gate.metrics.{name}", name) for name in params.gate.metrics]
    named += [(f"registry.key_metrics: {name}", name) for name in params.registry.key_metrics]
    if params.retrain.metric is not None:
        named.append(("retrain.metric", params.retrain.metric))
    _refuse_unknown(named, TASK_METRICS[task], f"a metric of task '{task}'", source)
    named = [(f"monitor.metrics: {name}", name) for name in params.monitor.metrics]
    if params.rollout.performance_metric is not None:
        named.append(("rollout.performance_metric", params.rollout.performance_metric))
    _refuse_unknown(named, LIVE_METRICS[task], f"a live metric of task '{task}'", source)
    wrong = [
        f"'kpi.{name}': kind '{kpi.kind}' applies only to task {' or '.join(KPI_TASKS[kpi.kind])}"
        for name, kpi in params.kpi.items()
        if task not in KPI_TASKS[kpi.kind]
    ]
    if wrong:
        raise ParamsError(f"{source}: {'; '.join(wrong)}, not to task '{task}'")


def _describe(error: ValidationError, source: Path) -> str:
    lines = []
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]) or "(top level)"
        if item["type"] == "extra_forbidden":
            lines.append(f"{source}: unknown key '{key}'")
        elif item["type"] == "missing":
            lines.append(f"{source}: missing key '{key}'")
        else:
            lines.append(f"{source}: '{key}': {item['msg']} (got {item.get('input')!r})")
    return "\n".join(lines)


def parse_params(raw: object, source: Path = DEFAULT_PARAMS) -> Params:
    """Validate a parsed params mapping.

    Raises:
        ParamsError: naming every unknown, missing or invalid key.
    """
    if not isinstance(raw, dict):
        raise ParamsError(f"{source}: expected a mapping of sections, got {type(raw).__name__}")
    try:
        params = Params.model_validate(raw)
    except ValidationError as error:
        raise ParamsError(_describe(error, source)) from None
    _check_metrics_fit_task(params, source)
    return params


def load_params(path: Path = DEFAULT_PARAMS) -> Params:
    """Read and validate params.yaml."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ParamsError(f"{path}: cannot read params file ({error.strerror})") from None
    try:
        raw = yaml.load(text, Loader=UniqueKeyLoader)  # nosec B506 - a SafeLoader subclass
    except DuplicateKey as error:
        raise ParamsError(f"{path}: {error}") from None
    except yaml.YAMLError as error:
        raise ParamsError(f"{path}: not valid YAML: {error}") from None
    params = parse_params(raw, path)
    pipeline = path.parent / "dvc.yaml"
    if pipeline.is_file():
        check_pipeline(params, pipeline)
    return params


def check_pipeline(params: Params, pipeline: Path) -> None:
    """Fail when dvc.yaml declares what these params do not produce (DVC would fail later).

    DVC cannot template a dependency away, so a null `validate.schema_file` needs dvc.yaml
    without it; and a plot the task does not draw makes `dvc plots show` fail.
    """
    try:
        raw = yaml.safe_load(pipeline.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise ParamsError(f"{pipeline}: cannot read: {error}") from None
    stage = (raw.get("stages") or {}).get("validate") or {}
    if params.validate_.schema_file is None and "${validate.schema_file}" in (
        stage.get("deps") or []
    ):
        raise ParamsError(
            f"{pipeline}: stage 'validate' depends on ${{validate.schema_file}}, which "
            "params.yaml sets to null: delete that line from its deps (`mlship init` does)"
        )
    produced = TASK_PLOTS[params.data.task]
    plots_dir = params.paths.plots_dir.as_posix()
    for plot in raw.get("plots") or []:
        for title, spec in (plot.items() if isinstance(plot, dict) else []):
            files = list((spec or {}).get("y") or {}) if isinstance(spec, dict) else []
            for name in files:
                if Path(name).parent.as_posix() == plots_dir and Path(name).name in produced:
                    continue
                raise ParamsError(
                    f"{pipeline}: plot '{title}' reads {name}, which task "
                    f"'{params.data.task}' does not produce; valid choices: "
                    + ", ".join(f"{plots_dir}/{file}" for file in produced)
                )


class DuplicateKey(yaml.YAMLError):
    """A mapping names the same key twice (PyYAML keeps the last; DVC rejects the file)."""


class UniqueKeyLoader(yaml.SafeLoader):  # pylint: disable=too-many-ancestors
    """yaml.SafeLoader that refuses a key repeated in one mapping, naming it and its lines."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        first_line: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<:` merges may override on purpose
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, Hashable):
                continue  # SafeLoader's own error names an unhashable key
            line = key_node.start_mark.line + 1
            if key in first_line:
                raise DuplicateKey(
                    f"line {line}: duplicate key {key!r} (first on line {first_line[key]})"
                )
            first_line[key] = line
        return super().construct_mapping(node, deep=deep)
