"""Column-wise CSV text must be byte for byte what csv.writer writes for the same values."""

import csv
import io

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from assume.outputs.csvtext import array_fields, plain_fields, rows_text


def _reference(columns: list[list]) -> str:
    handle = io.StringIO()
    csv.writer(handle, lineterminator="\n").writerows(zip(*columns, strict=True))
    return handle.getvalue()


def _as_csv_values(array: np.ndarray) -> list:
    """What the CSV writer converted columns to before: None for NaN/NaT, text for times."""
    if array.dtype.kind == "M":
        return [
            None if t == "NaT" else t.replace("T", " ")
            for t in np.datetime_as_string(array.astype("datetime64[s]"), unit="s").tolist()
        ]
    if array.dtype.kind == "f":
        return [None if v != v else v for v in array.tolist()]
    return array.tolist()


floats = hnp.arrays(np.float64, 12, elements=st.floats(allow_nan=True, allow_infinity=True))
texts = hnp.arrays(np.dtype("U6"), 12, elements=st.text(alphabet='ab,"\n\r ;é', max_size=6))
ints = hnp.arrays(np.int64, 12, elements=st.integers(-(2**40), 2**40))
times = hnp.arrays(np.int64, 12, elements=st.integers(-(10**9), 4 * 10**9)).map(
    lambda seconds: seconds.astype("datetime64[s]")
)


@settings(max_examples=60, derandomize=True)
@given(floats, texts, ints, times, hnp.arrays(np.bool_, 12))
def test_arrays_give_the_csv_writers_text(f, t, i, m, b):
    columns = [f, t, i, m, b]
    fields = [array_fields(c) for c in columns]
    assert rows_text(fields) == _reference([_as_csv_values(c) for c in columns])


def test_repeated_values_keep_their_own_text():
    values = np.array([0.0, -0.0, 0.1, 0.1, np.nan, -np.inf, 1e22, 0.0])
    assert array_fields(values) == ["0.0", "-0.0", "0.1", "0.1", "", "-inf", "1e+22", "0.0"]


@settings(max_examples=60, derandomize=True)
@given(
    st.lists(
        st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text()),
        min_size=1,
        max_size=8,
    )
)
def test_python_values_give_the_csv_writers_text(values):
    other = ["x"] * len(values)
    assert rows_text([plain_fields(values), other]) == _reference([values, other])


def test_a_single_column_of_empty_fields_is_quoted_as_csv_does():
    assert rows_text([["", "a"]]) == _reference([["", "a"]]) == '""\na\n'
