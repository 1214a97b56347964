"""`mlship init PATH --target COLUMN`: set the project up for your own table in one command.

Reads the file, infers the task, the features and a schema, writes params.yaml's `data` section
and task-fitting defaults, schema.yaml and dvc.yaml's plots, and pins the file with `dvc add`.
A file edited since it was committed or since init wrote it is kept unless --force.
"""

from __future__ import annotations

import argparse
import difflib
import hashlib
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from mlship.config import DEFAULT_PARAMS, KPI_TASKS, Task, parse_params
from mlship.data.io import read_table
from mlship.data.pinned import find_pin
from mlship.errors import MlshipError, ParamsError
from mlship.files import write_atomic, write_text
from mlship.init.infer import (
    choose_positive,
    infer_features,
    infer_schema_rules,
    infer_task,
    task_defaults,
)
from mlship.init.yamltext import set_key, set_section
from mlship.errors import CommandFailed
from mlship.io.process import dvc, git

MARKER = "# written by mlship init"
PIPELINE = Path("dvc.yaml")


def _digest(body: str) -> str:
    return hashlib.sha256(body.encode("utf-8")).hexdigest()[:16]


def stamp(text: str) -> str:
    """`text` with init's last line: the digest that tells an edit from init's own output."""
    return f"{text}{MARKER} (digest {_digest(text)}; mlship init --force replaces edits)\n"


def untouched(path: Path) -> bool:
    """Whether `path` may be replaced: absent, as init wrote it, or committed and unchanged."""
    if not path.exists():
        return True
    text = path.read_text(encoding="utf-8")
    body, _, last = text.rstrip("\n").rpartition("\n")
    if last.startswith(MARKER) and f"(digest {_digest(body + chr(10))};" in last:
        return True
    try:
        git("ls-files", "--error-unmatch", "--", str(path))
        git("diff", "--quiet", "HEAD", "--", str(path))
    except CommandFailed:
        return False  # untracked, or changed since the last commit: someone's edit
    return True


def _unstamped(text: str) -> str:
    body, _, last = text.rstrip("\n").rpartition("\n")
    return body + "\n" if last.startswith(MARKER) else text


def _plots(task: Task, plots_dir: str) -> list[dict[str, Any]]:
    """dvc.yaml's top-level plots for the task: exactly the files its evaluation writes."""

    def plot(title: str, name: str, template: str, x: str, y: str) -> dict[str, Any]:
        return {title: {"template": template, "x": x, "y": {f"{plots_dir}/{name}": y}}}

    if task == "binary":
        return [
            plot("ROC", "roc.csv", "simple", "fpr", "tpr"),
            plot("Precision-recall", "pr.csv", "simple", "recall", "precision"),
            plot("Calibration", "calibration.csv", "simple", "predicted", "observed"),
            plot("Confusion", "confusion.csv", "confusion", "actual", "predicted"),
        ]
    if task == "multiclass":
        return [plot("Confusion", "confusion.csv", "confusion", "actual", "predicted")]
    return [
        plot("Residuals", "residuals.csv", "scatter", "predicted", "residual"),
        plot("Predicted vs actual", "residuals.csv", "scatter", "actual", "predicted"),
    ]


def _place(source: Path, data_dir: Path, force: bool) -> Path:
    """The data's path in the repository: as given when inside it, else a copy in `data_dir`."""
    root = Path.cwd().resolve()
    absolute = source.resolve()
    if absolute.is_relative_to(root):
        return absolute.relative_to(root)
    target = data_dir / source.name
    if target.exists() and not force and target.read_bytes() != source.read_bytes():
        raise ParamsError(f"{target} exists with other content; pass --force to replace it")
    write_atomic(target, lambda temp: shutil.copyfile(source, temp))
    print(f"copied {source} to {target}")
    return target


def _column(frame_columns: list[str], name: str, option: str) -> None:
    if name not in frame_columns:
        close = difflib.get_close_matches(name, frame_columns, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ParamsError(
            f"{option} {name!r} is not a column of the file{hint} (columns: {frame_columns})"
        )


def run(args: argparse.Namespace) -> int:
    """Infer, check and write everything; then `dvc add` the data."""
    params_path: Path = args.params
    text = params_path.read_text(encoding="utf-8") if params_path.exists() else ""
    raw = yaml.safe_load(text) or {}
    old_data = raw.get("data") or {}
    data_dir = Path(str(old_data.get("path", "data/x"))).parent
    source: Path = args.path
    frame = read_table(source)  # fails naming the file before anything is written
    columns = [str(c) for c in frame.columns]
    _column(columns, args.target, "--target")
    if args.id:
        _column(columns, args.id, "--id")
        if frame[args.id].isna().any() or frame[args.id].duplicated().any():
            raise ParamsError(f"--id {args.id!r}: values are missing or repeated; not an id")

    task, why = infer_task(frame[args.target], args.task)
    inference = infer_features(frame, args.target, args.id)
    notes = [f"task: {task} ({why})", *inference.notes]
    positive: str | int | None = None
    if task == "binary":
        positive, reason = choose_positive(frame[args.target], args.positive_label)
        notes.append(f"positive label: {positive!r} ({reason})")
    elif args.positive_label is not None:
        raise ParamsError(f"--positive-label applies only to task binary, not {task}")
    missing_targets = int(frame[args.target].isna().sum())
    if missing_targets:
        notes.append(
            f"{missing_targets} row(s) have no target: validate.drop_missing_target: true "
            "drops them (counted in the validation report)"
        )

    schema_path = Path(str((raw.get("validate") or {}).get("schema_file") or "schema.yaml"))
    data_path = _place(source, data_dir, args.force) if not args.dry_run else source
    data_section: dict[str, Any] = {
        "path": data_path.as_posix(),
        "task": task,
        "target": args.target,
        "id_column": args.id,
        "positive_label": positive,
        "numeric": inference.numeric,
        "categorical": inference.categorical,
    }
    new_text = _fit_kpis(
        set_section(
            _unstamped(text), "data", data_section, f"written by mlship init from {source}"
        ),
        task,
    )
    defaults = task_defaults(frame, task, args.target, [*inference.numeric, *inference.categorical])
    defaults["validate.schema_file"] = schema_path.as_posix()
    defaults["registry.model_name"] = _model_name(data_path)
    for dotted, value in defaults.items():
        section, key = dotted.split(".", 1)
        new_text = set_key(new_text, section, key, value)
    params = parse_params(yaml.safe_load(new_text), params_path)  # what stages will read

    rules = infer_schema_rules(
        frame, task, args.target, args.id, inference.numeric, inference.categorical
    )
    schema_text = (
        f"# Data contract for {data_path.as_posix()}, inferred by mlship init from the data:\n"
        "# ranges widened by a margin, categories as observed. Tighten them as you know better.\n"
        + yaml.safe_dump(
            {"columns": rules},
            default_flow_style=None,
            sort_keys=False,
            allow_unicode=True,
            width=96,
        )
    )
    pipeline_text = set_section(
        _unstamped(PIPELINE.read_text(encoding="utf-8")),
        "plots",
        _plots(task, params.paths.plots_dir.as_posix()),
        f"the plots task '{task}' draws (mlship init)",
    )
    outputs = {params_path: new_text, schema_path: schema_text, PIPELINE: pipeline_text}
    edited = [str(path) for path in outputs if not untouched(path)]
    if edited and not args.force:
        raise ParamsError(
            f"{', '.join(edited)} changed since committed or since mlship init wrote them: "
            "commit or discard the edits, or pass --force to replace them"
        )
    print("\n".join(f"mlship init: {note}" for note in notes))
    if args.dry_run:
        return 0
    for path, content in outputs.items():
        write_text(path, stamp(content))
        print(f"mlship init: wrote {path}")
    _advise(task, [*map(str, outputs), *_dvc_add(data_path)])
    return 0


def _advise(task: Task, changed: list[str]) -> None:
    """Name the params init cannot infer, and the files to commit after `make pipeline`."""
    threshold = ", evaluate.threshold (binary decision cut-off)" if task == "binary" else ""
    print(
        "mlship init: check these params (not inferable from data): train.model and its "
        f"hyperparams (the estimator){threshold}, gate.metrics floors (what your users need)"
    )
    print(f"mlship init: next: make pipeline, then git add {' '.join(dict.fromkeys(changed))}")


def _fit_kpis(text: str, task: Task) -> str:
    """Empty the `kpi:` section when its KPIs (the example's are binary) do not fit `task`."""
    kpis = (yaml.safe_load(text) or {}).get("kpi") or {}
    kinds = {spec.get("kind") for spec in kpis.values() if isinstance(spec, dict)}
    if all(task in KPI_TASKS.get(str(kind), (task,)) for kind in kinds):
        return text
    return set_section(text, "kpi", {}, f"no KPI of task {task} declared yet")


def _model_name(data_path: Path) -> str:
    cleaned = "".join(ch if ch.isalnum() or ch in "_.-" else "-" for ch in data_path.stem)
    return cleaned.strip("-_.") or "model"


def _dvc_add(data_path: Path) -> list[str]:
    """Pin the data: the .dvc file that tracks it or its directory (data.dvc, as the template's).

    Returns the files DVC changed for git to track.
    """
    pin = find_pin(data_path, Path.cwd())
    if pin:
        tracked = pin.out.relative_to(Path.cwd().resolve())
    else:
        tracked = data_path.parent if data_path.parent != Path(".") else data_path
    said = dvc("add", str(tracked))  # its hints are for people at a prompt; init prints its own
    print(f"mlship init: dvc add {tracked} ({tracked}.dvc pins the data)")
    # DVC's own hint names the files it changed (the .dvc file, a .gitignore): init's says them.
    asked = [line.strip() for line in said.splitlines() if line.strip().startswith("git add ")]
    return asked[0].split()[2:] if asked else []


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(
        prog="mlship init", description="Set the pipeline up for a CSV or Parquet file."
    )
    parser.add_argument("path", type=Path, help="the data file (.csv or .parquet)")
    parser.add_argument("--target", required=True, help="the column to predict")
    parser.add_argument("--task", choices=["binary", "multiclass", "regression"])
    parser.add_argument("--id", help="a column of unique row ids (kept out of the features)")
    parser.add_argument("--positive-label", help="binary only: the class that counts as positive")
    parser.add_argument("--force", action="store_true", help="replace files edited since")
    parser.add_argument("--dry-run", action="store_true", help="say what would be chosen only")
    parser.add_argument("--params", type=Path, default=DEFAULT_PARAMS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except MlshipError as error:
        print(f"mlship init: error: {error}", file=sys.stderr)
        return error.exit_code


if __name__ == "__main__":
    sys.exit(main())
