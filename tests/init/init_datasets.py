"""Tables the project never saw: scikit-learn's bundled datasets and a generated one."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn import datasets


@dataclass(frozen=True)
class Dataset:
    """A table, its target, the task init should infer and the options it is given."""

    frame: pd.DataFrame
    target: str
    task: str
    options: tuple[str, ...] = ()
    positive_label: str | int | None = None
    classes: tuple[Any, ...] = field(default=())

    @property
    def missing_targets(self) -> int:
        """Rows without a target, which init's params drop and the report counts."""
        return int(self.frame[self.target].isna().sum())

    def write(self, path: Path) -> Path:
        """The table as CSV or Parquet, by the suffix of `path`."""
        if path.suffix == ".parquet":
            self.frame.to_parquet(path, index=False)
        else:
            self.frame.to_csv(path, index=False)
        return path


def _synthetic(rows: int = 400, seed: int = 7) -> pd.DataFrame:
    """Regression with text categories, missing values, a text id and missing targets."""
    rng = np.random.default_rng(seed)
    city = rng.choice(["Lyon", "Paris", "Nantes"], rows).astype(object)
    city[rng.random(rows) < 0.05] = None
    size = rng.uniform(20, 150, rows).round(1)
    price = 2000 * size + np.where(city == "Paris", 90_000, 10_000) + rng.normal(0, 5000, rows)
    price[rng.random(rows) < 0.05] = np.nan
    return pd.DataFrame(
        {
            "listing": [f"L-{i:05d}" for i in range(rows)],
            "size": size,
            "city": city,
            "floor / level": rng.integers(0, 8, rows),
            "constant": "same",
            "price": price,
        }
    )


def _wine() -> pd.DataFrame:
    return datasets.load_wine(as_frame=True).frame


DATASETS = {
    "wine": Dataset(_wine(), "target", "multiclass", classes=(0, 1, 2)),
    "diabetes": Dataset(datasets.load_diabetes(as_frame=True).frame, "target", "regression"),
    # 0 is malignant: the positive class, where a 0/1 target's default would be 1.
    "cancer": Dataset(
        datasets.load_breast_cancer(as_frame=True).frame,
        "target",
        "binary",
        ("--positive-label", "0"),
        0,
        (0, 1),
    ),
    "synthetic": Dataset(_synthetic(), "price", "regression", ("--id", "listing")),
}
