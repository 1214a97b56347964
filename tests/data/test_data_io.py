"""Reading tables fails with a message naming the file; model_frame types features consistently."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlship.config import DataParams
from mlship.data.io import class_labels, model_frame, read_table, require_columns, write_table
from mlship.errors import DataError

DATA = DataParams(
    path=Path("data.csv"), task="binary", target="y", numeric=("n",), categorical=("zip", "plan")
)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        pytest.param("nope.csv", None, "nope.csv: data file not found", id="missing"),
        pytest.param("empty.csv", b"", "empty.csv: data file is empty", id="empty"),
        pytest.param("header.csv", b"a,b,y\n", "header but no rows", id="header-only"),
        pytest.param(
            "data.xlsx",
            b"PK",
            r"unsupported file type '\.xlsx' \(use \.csv or \.parquet\)",
            id="unsupported-suffix",
        ),
        pytest.param(
            "broken.parquet", b"not parquet", "broken.parquet: cannot parse", id="bad-parquet"
        ),
        pytest.param(
            "ragged.csv",
            b"a,b\n1,2\n3,4,5,6\n",
            "ragged.csv: cannot parse: .*Expected 2 fields",
            id="ragged-csv",
        ),
        pytest.param(
            "latin1.csv",
            "ville,y\nBézier,1\n".encode("latin-1"),
            # The line of the first byte that is not UTF-8, so it can be found and fixed.
            "latin1.csv: line 2, byte 2 of the line: 0xe9 is not UTF-8",
            id="not-utf8-csv",
        ),
    ],
)
def test_unreadable_table_is_an_error_that_says_why(
    tmp_path: Path, name: str, content: bytes | None, message: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DataError, match=message):
        read_table(path)


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".CSV"])
def test_tables_round_trip_through_write_and_read(tmp_path: Path, suffix: str) -> None:
    frame = pd.DataFrame({"a": [1.5, np.nan], "b": ["x", "y"]})
    path = tmp_path / f"t{suffix}"
    write_table(frame, path)
    pd.testing.assert_frame_equal(read_table(path), frame, check_dtype=False)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temp file left behind


def test_require_columns_lists_every_missing_column() -> None:
    with pytest.raises(DataError) as caught:
        require_columns(pd.DataFrame({"a": [1]}), ["a", "b", "c"], Path("d.csv"))
    assert "d.csv: missing column(s) ['b', 'c']" in str(caught.value)


def test_model_frame_makes_numeric_float_and_categorical_text() -> None:
    frame = pd.DataFrame(
        {"n": [1, 2, 3], "zip": [75001, 69002, 75001], "plan": ["a", None, "b"], "y": [0, 1, 0]}
    )
    out = model_frame(frame, DATA)
    assert list(out.columns) == ["n", "zip", "plan"]
    assert out["n"].dtype == "float64"
    assert out["zip"].tolist() == ["75001", "69002", "75001"]
    assert out["plan"].iloc[0] == "a" and pd.isna(out["plan"].iloc[1])


def test_numeric_coded_category_read_as_float_matches_its_text_form() -> None:
    # A code column with a gap is read as float by CSV readers: 1.0 must still mean "1".
    as_float = pd.DataFrame({"n": [1.0, 2.0], "zip": [1.0, np.nan], "plan": [2.5, 3.0]})
    as_text = pd.DataFrame({"n": ["1", "2"], "zip": ["1", None], "plan": ["2.5", "3"]})
    out_float, out_text = model_frame(as_float, DATA), model_frame(as_text, DATA)
    assert out_float["zip"].iloc[0] == "1" and pd.isna(out_float["zip"].iloc[1])
    pd.testing.assert_frame_equal(out_float, out_text)


def test_nullable_integer_category_keeps_missing_as_missing() -> None:
    frame = pd.DataFrame(
        {
            "n": pd.array([1, None], dtype="Int64"),
            "zip": pd.array([7, None], dtype="Int64"),
            "plan": ["a", "b"],
        }
    )
    out = model_frame(frame, DATA)
    assert out["zip"].iloc[0] == "7"
    assert pd.isna(out["zip"].iloc[1])
    assert np.isnan(out["n"].iloc[1])


def test_boolean_category_becomes_text() -> None:
    frame = pd.DataFrame({"n": [1, 2], "zip": [True, False], "plan": ["a", "b"]})
    assert model_frame(frame, DATA)["zip"].tolist() == ["True", "False"]


def test_text_in_numeric_column_is_an_error_not_silent_missing_values() -> None:
    frame = pd.DataFrame({"n": ["1", "forty", "3", "forty"], "zip": list("abcd"), "plan": "p"})
    with pytest.raises(DataError) as caught:
        model_frame(frame, DATA)
    assert str(caught.value) == "column 'n': 2 value(s) are not numbers, e.g. ['forty']"


def test_numeric_text_that_parses_is_accepted() -> None:
    frame = pd.DataFrame({"n": ["1.5", None], "zip": ["a", "b"], "plan": ["p", "q"]})
    out = model_frame(frame, DATA)
    assert out["n"].iloc[0] == 1.5 and np.isnan(out["n"].iloc[1])


def test_mixed_type_category_becomes_all_text() -> None:
    # Objects from JSON or Parquet can mix numbers and text; the encoder needs one type.
    frame = pd.DataFrame({"n": [1.0, 2.0, 3.0], "zip": [75001, "2A004", None], "plan": "p"})
    out = model_frame(frame.astype({"zip": object}), DATA)
    assert out["zip"].iloc[:2].tolist() == ["75001", "2A004"]
    assert pd.isna(out["zip"].iloc[2])


def test_infinite_number_is_an_error_naming_the_column() -> None:
    frame = pd.DataFrame({"n": [1.0, np.inf, -np.inf], "zip": "a", "plan": "p"})
    with pytest.raises(DataError, match="column 'n': 2 value.s. are infinite"):
        model_frame(frame, DATA)


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        (pd.Series([0.0, 1.0, 1.0]), [0, 1, 1]),
        (pd.Series([True, False]), [1, 0]),
        (pd.Series(["yes", "no"]), ["yes", "no"]),
        (pd.Series([0.5, 1.0]), [0.5, 1.0]),
    ],
)
def test_class_labels_read_as_float_or_bool_become_integers(
    labels: pd.Series, expected: list[object]
) -> None:
    assert class_labels(labels).tolist() == expected


def test_class_labels_with_a_gap_keep_it_missing() -> None:
    out = class_labels(pd.Series([1.0, np.nan, 0.0]))
    assert out.iloc[0] == 1 and pd.isna(out.iloc[1])


def test_code_column_with_text_far_down_a_big_csv_is_read_as_text(tmp_path: Path) -> None:
    # Chunked type inference would mix ints and strings here and warn (an error in tests).
    rows = 300_000  # beyond the C parser's first chunk
    codes = [str(i) for i in range(rows - 2)] + ["2A004", "2B010"]
    path = tmp_path / "big.csv"
    pd.DataFrame({"n": 1.0, "zip": codes, "plan": "p"}).to_csv(path, index=False)
    frame = read_table(path)
    assert frame["zip"].map(type).eq(str).all()
    assert model_frame(frame, DATA)["zip"].iloc[-1] == "2B010"
