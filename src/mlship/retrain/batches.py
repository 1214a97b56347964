"""Where the retrain loop finds its data: one batch per month, `<batches_dir>/<YYYY-MM>.csv`."""

from __future__ import annotations

import re
from pathlib import Path

from mlship.config import Params
from mlship.errors import ParamsError

MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def check_month(month: str) -> str:
    """Return `month` if it is YYYY-MM.

    Raises:
        ParamsError: it is not.
    """
    if not MONTH.match(month):
        raise ParamsError(f"month must be YYYY-MM, got {month!r}")
    return month


def batch_path(params: Params, month: str) -> Path:
    """Where the batch of `month` lives."""
    return params.retrain.batches_dir / f"{month}.csv"
