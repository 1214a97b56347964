"""Stage `train`: fit the configured pipeline on the training split, seeded and byte-stable."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from threadpoolctl import threadpool_limits

from mlship.config import Params
from mlship.data.io import read_table, require_columns
from mlship.entry import run_stage
from mlship.files import json_safe, write_json
from mlship.model.artifact import save_model
from mlship.model.pipeline import make_pipeline
from mlship.model.scoring import Labels, rows_hash


def run(params: Params) -> dict[str, Any]:
    """Fit on `split_dir/train.parquet`; write model.skops and model.json into `model_dir`."""
    data = params.data
    pipeline = make_pipeline(data, params.train)  # first: a params error needs no data read
    source = params.paths.split_dir / "train.parquet"
    train = read_table(source)
    require_columns(train, ["__id__", *data.features, data.target], source)  # split is current
    sample = params.train.sample_rows
    if sample is not None and sample < len(train):
        train = train.sample(n=sample, random_state=params.train.seed).reset_index(drop=True)
    features = train[data.features]
    with threadpool_limits(limits=params.train.threads):
        pipeline.fit(features, train[data.target])
    labels = Labels.from_model(pipeline, data)
    out = params.paths.model_dir
    trusted = save_model(pipeline, out / "model.skops")
    meta: dict[str, Any] = {
        "task": data.task,
        "target": data.target,
        "numeric": list(data.numeric),
        "categorical": list(data.categorical),
        "classes": labels.classes,
        "positive_index": labels.positive_index,
        "model": params.train.model,
        "train_rows": len(train),
        "data_md5": rows_hash(train, ["__id__", *data.features, data.target]),
        "trusted_types": trusted,
        "input_example": features.head(3).to_dict(orient="records"),
    }
    write_json(out / "model.json", json_safe(meta))
    print(f"trained {params.train.model} on {len(train)} rows -> {out / 'model.skops'}")
    return meta


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    return run_stage("train", "Train the model configured in params.yaml.", run, argv)


if __name__ == "__main__":
    sys.exit(main())
