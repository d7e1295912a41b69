"""CSV text of whole columns at once, byte for byte what ``csv.writer`` writes.

Output tables repeat values a lot: the same timestamp for every unit, the same clearing
price for every order of a product, a plant's capacity in every hour. Formatting each
distinct value once and spreading the text with numpy indexing is several times faster
than ``csv.writer`` formatting every cell, which matters for a year of a thousand units
(tens of millions of cells).

The text is what ``csv.writer(file, lineterminator="\\n")`` writes for the values that
:mod:`assume.outputs.writers` converts columns to: missing values (None, NaN, NaT) as empty
fields, floats by ``repr``, booleans as True/False, and fields holding a comma, a quote or
a newline quoted, with quotes doubled.
"""

from __future__ import annotations

import numpy as np

_SPECIAL = (",", '"', "\n")


def _quoted(text: str) -> str:
    if any(mark in text for mark in _SPECIAL):
        return '"' + text.replace('"', '""') + '"'
    return text


def _spread(texts: list[str], inverse: np.ndarray) -> list[str]:
    return np.array(texts, dtype=object)[inverse.ravel()].tolist()


def _float_fields(values: np.ndarray) -> list[str]:
    # distinct by bit pattern, so -0.0 and 0.0 keep their own text
    bits = np.ascontiguousarray(values, dtype=np.float64).view(np.int64)
    unique, inverse = np.unique(bits, return_inverse=True)
    texts = ["" if v != v else repr(v) for v in unique.view(np.float64).tolist()]
    return _spread(texts, inverse)


def _datetime_fields(values: np.ndarray) -> list[str]:
    unique, inverse = np.unique(values.astype("datetime64[s]"), return_inverse=True)
    texts = [
        "" if text == "NaT" else text.replace("T", " ", 1)
        for text in np.datetime_as_string(unique, unit="s").tolist()
    ]
    return _spread(texts, inverse)


def _text_fields(values: np.ndarray) -> list[str]:
    # a dict of the distinct texts: hashing is much cheaper than np.unique's string sort
    texts = (values if values.dtype.kind == "U" else values.astype(str)).tolist()
    fields = {text: _quoted(text) for text in set(texts)}
    return [fields[text] for text in texts]


def plain_fields(values: list) -> list[str]:
    """Fields of a column of Python values (already converted: None, bool, int, float, str)."""
    return ["" if v is None else _quoted(v if type(v) is str else repr(v)) for v in values]


def array_fields(values: np.ndarray) -> list[str] | None:
    """The CSV field text of every value of a 1-D array, or None for dtypes without a fast
    path (convert those to Python values and use :func:`plain_fields`)."""
    kind = values.dtype.kind
    if kind == "f" and values.dtype.itemsize == 8:
        return _float_fields(values)
    if kind == "M":
        return _datetime_fields(values)
    if kind in "US":
        return _text_fields(values)
    if kind in "iub":
        return list(map(str, values.tolist()))
    return None


def rows_text(fields: list[list[str]]) -> str:
    """Lines of comma-joined fields, one per row, each ending in a newline."""
    if not fields or not fields[0]:
        return ""
    if len(fields) == 1:
        # csv.writer quotes a row that is a single empty field, to tell it from no row
        return "".join((f or '""') + "\n" for f in fields[0])
    return "\n".join(map(",".join, zip(*fields, strict=True))) + "\n"
