"""Stage `validate`: check the dataset against its contract; list every violation."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from mlship.config import Params
from mlship.data.contract import ValidationReport, load_schema_file, validate_frame
from mlship.data.holdout import check_room_for_classes
from mlship.data.io import class_labels, read_table
from mlship.entry import run_stage
from mlship.errors import SchemaViolation
from mlship.files import write_json, write_text


def run(params: Params) -> ValidationReport:
    """Validate `data.path`, write validation.json and validation.md, raise if invalid.

    Valid data whose rows cannot fill both sides of the split with every class is a
    ParamsError, before anything is written.
    """
    source = params.data.path
    schema_file = load_schema_file(params.validate_.schema_file)
    frame = read_table(source)
    report = validate_frame(frame, params.data, params.validate_, schema_file, str(source))
    if report.valid and params.data.is_classification:
        # The rows with a target are the rows the split will take.
        labelled = frame[params.data.target].dropna()
        classes = int(class_labels(labelled).nunique())
        check_room_for_classes(len(labelled), classes, params.split, source)
    out = params.paths.validation_dir
    write_json(out / "validation.json", report.to_dict())
    write_text(out / "validation.md", report.to_markdown())
    if not report.valid:
        raise SchemaViolation(
            f"{source} failed validation with {len(report.violations)} violation(s):\n"
            + report.summary()
        )
    dropped = report.dropped_missing_target
    after = f"; {dropped} row(s) without a target dropped" if dropped else ""
    print(f"{source}: valid ({report.rows} rows, {report.columns} columns{after})")
    return report


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    return run_stage(
        "validate", "Validate the dataset against params and the schema file.", run, argv
    )


if __name__ == "__main__":
    sys.exit(main())
