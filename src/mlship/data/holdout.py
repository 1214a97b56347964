"""Whether the held-out split can hold every class: known once the rows are (validate, split)."""

from __future__ import annotations

import math
from pathlib import Path

from mlship.config import SplitParams
from mlship.errors import ParamsError


def check_room_for_classes(rows: int, classes: int, split: SplitParams, source: Path) -> None:
    """Raise ParamsError unless each side of the split can hold a row of every class.

    params.yaml alone cannot tell: the rule needs the number of rows and classes, so the
    validate stage checks it as soon as it has read the data, and the split stage again.
    """
    test_rows = math.ceil(split.test_size * rows)  # scikit-learn rounds the test side up
    train_rows = rows - test_rows
    if test_rows < classes:
        needed = classes / rows
        raise ParamsError(
            f"{source}: split.test_size={split.test_size} holds {test_rows} of "
            f"{rows} rows, fewer than the {classes} classes, so the held-out rows cannot hold "
            f"every class; raise split.test_size to at least {needed:.3g}"
        )
    if train_rows < classes:
        raise ParamsError(
            f"{source}: split.test_size={split.test_size} leaves {train_rows} "
            f"of {rows} rows to train on, fewer than the {classes} classes; lower split.test_size"
        )
