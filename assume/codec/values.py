"""Converters between the values of one annotation and JSON values, checked both ways.

A converter is built once per annotation, when a message type is registered
(:mod:`assume.codec.schema`), so sending a message only runs conversions that are already
decided. ``encode`` turns a value into what :mod:`json` writes and ``decode`` turns what
:mod:`json` read back into the value; both raise :class:`WireError` for anything else.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import math
from collections.abc import Callable, Iterable
from types import NoneType
from typing import Any

import numpy as np

from assume.markets.orderbook import COLUMNS, Orderbook

TYPE_KEY = "__type__"

JSON_TYPES = (dict, list, str, int, float, bool, NoneType)
"""The types :func:`json.loads` builds."""

PLAIN_SCALARS = frozenset({str, int, float, bool, NoneType})
"""Types whose values are JSON scalars as they are."""


@dataclasses.dataclass(frozen=True)
class Array:
    """What an ``np.ndarray`` field must hold: a dtype (``float64``, ``int64``, ``bool``,
    ``datetime64[s]`` or ``str``) and a shape where ``None`` is any length.

    Use it as ``Annotated[np.ndarray, Array("int64", (None, 2))]`` or in ``field_types``.
    """

    dtype: str | None = None
    shape: tuple[int | None, ...] | None = None


Scalar = str | int | float | bool | None
"""A JSON scalar; in a union, tried in this order (so 3 stays an int, 3.0 a float)."""


class WireError(Exception):
    """A value that cannot be converted: ``reason``, found ``trail`` below the value given.

    Converters do not know where their value sits in a message, so a path is only built for
    a value that is wrong: whoever catches the error adds its step with :meth:`within`.
    """

    def __init__(self, reason: str, alternatives: tuple[WireError, ...] = ()):
        super().__init__(reason)
        self.reason = reason
        self.alternatives = alternatives
        self.trail: list[str] = []

    def within(self, step: str) -> WireError:
        """This error one step further out: ``.field``, ``[position]`` or a message name."""
        self.trail.append(step)
        return self

    def text(self, prefix: str = "") -> str:
        """What was wrong, after the path of the wrong value."""
        where = prefix + "".join(reversed(self.trail))
        text = f"{where}: {self.reason}"
        if self.alternatives:
            text += ": " + "; ".join(error.text(where) for error in self.alternatives)
        return text


def json_type(wire: Any) -> str:
    """What a JSON value is, for error messages."""
    if isinstance(wire, dict):
        return f"an object tagged {wire[TYPE_KEY]!r}" if TYPE_KEY in wire else "an object"
    return {list: "a list", str: "a string", bool: "a boolean", NoneType: "null"}.get(
        type(wire), "a number"
    )


def expected(description: str, wire: Any) -> WireError:
    """The error for a JSON value that is not ``description``."""
    return WireError(f"expected {description}, got {json_type(wire)}")


def check_keys(wire: dict, keys: frozenset[str]) -> None:
    """Refuse an object whose keys are not exactly ``keys`` (which include its tag)."""
    if wire.keys() == keys:
        return
    missing, extra = sorted(keys - wire.keys()), sorted(wire.keys() - keys)
    if missing:
        raise WireError(f"missing field(s) {', '.join(missing)}")
    raise WireError(f"unknown field(s) {', '.join(map(repr, extra))}")


def check_items(items: list, allowed: frozenset[type], what: str, where: str = "") -> None:
    """Refuse a list with an item whose type is not one of ``allowed``; the error names the
    item's position after ``where``."""
    # type() rather than isinstance(): True must not pass as an int or a float
    if allowed.issuperset(map(type, items)):
        return
    position = next(i for i, item in enumerate(items) if type(item) not in allowed)
    raise expected(what, items[position]).within(f"{where}[{position}]")


def convert_each(convert: Callable[[Any], Any], items: Iterable) -> list:
    """``convert`` of each item; an error names the position of the item."""
    converted = []
    for position, item in enumerate(items):
        try:
            converted.append(convert(item))
        except WireError as error:
            error.within(f"[{position}]")
            raise
    return converted


class Converter:
    """How values of one annotation are encoded to JSON values and checked when decoded."""

    description = "a value"
    unchanged: frozenset[type] = frozenset()
    """Types whose values travel as they are, both ways: callers may skip the call for them."""
    value_types: tuple[type, ...] | None = None
    """The types :meth:`encode` may take (for ``isinstance``); None for any type."""
    wire_types: frozenset[type] = frozenset(JSON_TYPES)
    """The JSON types :meth:`decode` may take."""

    def encode(self, value: Any) -> Any:
        """The JSON value for ``value``."""
        raise NotImplementedError

    def decode(self, wire: Any) -> Any:
        """The value for the JSON value ``wire``."""
        raise NotImplementedError


_SCALARS = {
    str: ("a string", (str,)),
    int: ("an integer", (int, np.integer)),
    float: ("a number", (float, int, np.floating, np.integer)),
    bool: ("a boolean", (bool, np.bool_)),
    NoneType: ("null", (NoneType,)),
}


class ScalarConverter(Converter):
    """One JSON scalar type; numpy scalars are sent as the Python scalar."""

    def __init__(self, kind: type):
        self.kind = kind
        self.unchanged = frozenset({kind})
        self.description, self.value_types = _SCALARS[kind]
        self.wire_types = frozenset({float, int} if kind is float else {kind})

    def encode(self, value):
        if type(value) is self.kind:
            return value
        if isinstance(value, self.value_types) and (
            self.kind is bool or not isinstance(value, bool | np.bool_)
        ):
            return None if value is None else self.kind(value)
        raise WireError(f"expected {self.description}, got {type(value)}")

    def decode(self, wire):
        if type(wire) is self.kind:
            return wire
        if self.kind is float and type(wire) is int:
            try:
                return float(wire)
            except OverflowError:
                raise WireError(f"{wire} is out of the float range") from None
        raise expected(self.description, wire)


_DTYPES = {
    "float64": (np.dtype("float64"), frozenset({float, int}), "float or int"),
    "int64": (np.dtype("int64"), frozenset({int}), "int"),
    "bool": (np.dtype("bool"), frozenset({bool}), "bool"),
    "datetime64[s]": (np.dtype("datetime64[s]"), frozenset({int}), "int"),
    "str": (np.dtype(str), frozenset({str}), "str"),
}
"""Array dtypes on the wire: name -> (dtype, JSON item types, their names). Datetimes travel
as int64 seconds (NaT as the smallest int64); strings as str, decoded to the narrowest
``<U`` dtype."""

_DTYPE_NAMES = {dtype: name for name, (dtype, _, _) in _DTYPES.items() if name != "str"}
_WIRE_DTYPES = {
    "float64": np.dtype("float64"),
    "int64": np.dtype("int64"),
    "bool": np.dtype("uint8"),
    "datetime64[s]": np.dtype("int64"),
}
"""How numbers travel: the base64 text of their bytes as these types, little-endian (no
number text to write and parse per item). Decoding also takes the items as a JSON list."""
_ARRAY_KEYS = frozenset({TYPE_KEY, "dtype", "shape", "data"})
_INT = frozenset({int})


def _shape_text(shape: tuple[int | None, ...]) -> str:
    text = ", ".join("n" if n is None else str(n) for n in shape)
    return f"({text},)" if len(shape) == 1 else f"({text})"


class ArrayConverter(Converter):
    """A numpy array as a tagged object: dtype name, shape, and the items flat, numbers as
    base64 text of their little-endian bytes and texts as a list (numbers are also taken as
    a list)."""

    value_types = (np.ndarray,)
    wire_types = frozenset({dict})

    def __init__(self, spec: Array = Array()):
        if spec.dtype is not None and spec.dtype not in _DTYPES:
            raise TypeError(f"Array dtype must be one of {', '.join(_DTYPES)}, not {spec.dtype}")
        self.spec = spec
        shape = "" if spec.shape is None else f" of shape {_shape_text(spec.shape)}"
        self.description = f"an array{shape} of {spec.dtype or 'any dtype'}"
        # the axes of fixed length, and those lengths, to compare in one go
        fixed = [(axis, n) for axis, n in enumerate(spec.shape or ()) if n is not None]
        self._fixed_axes = tuple(axis for axis, _ in fixed)
        self._fixed_lengths = tuple(n for _, n in fixed)

    def encode(self, value):
        if not isinstance(value, np.ndarray):
            raise WireError(f"expected an ndarray, got {type(value)}")
        dtype = "str" if value.dtype.kind == "U" else _DTYPE_NAMES.get(value.dtype)
        if dtype is None:
            raise WireError(
                f"arrays of dtype {value.dtype} cannot be sent; use one of {', '.join(_DTYPES)}"
            )
        self._check_spec(dtype, value.shape)
        if dtype == "str":
            data = value.ravel().tolist()
        else:
            wire_dtype = _WIRE_DTYPES[dtype]
            if dtype == "datetime64[s]":
                value = value.view(wire_dtype)
            data = _to_base64(value, wire_dtype)
        return {TYPE_KEY: "ndarray", "dtype": dtype, "shape": list(value.shape), "data": data}

    def decode(self, wire):
        if not isinstance(wire, dict) or wire.get(TYPE_KEY) != "ndarray":
            raise expected(self.description, wire)
        check_keys(wire, _ARRAY_KEYS)
        dtype, shape, data = wire["dtype"], wire["shape"], wire["data"]
        if type(dtype) is not str or dtype not in _DTYPES:
            raise WireError(f"{dtype!r} is not one of {', '.join(_DTYPES)}").within(".dtype")
        if (
            not isinstance(shape, list)
            or not _INT.issuperset(map(type, shape))
            or min(shape, default=0) < 0
        ):
            raise expected("a list of non-negative integers", shape).within(".shape")
        numpy_dtype, items, what = _DTYPES[dtype]
        if type(data) is str and dtype != "str":
            self._check_spec(dtype, tuple(shape))
            array = _from_base64(data, _WIRE_DTYPES[dtype], "data")
            if len(array) != math.prod(shape):
                raise WireError(
                    f"shape {shape} needs {math.prod(shape)} items, data has {len(array)}"
                )
            if dtype == "bool":
                if np.count_nonzero(array > 1):
                    raise WireError("bool bytes other than 0 and 1").within(".data")
                array = array.view(bool)
            try:
                return array.view(numpy_dtype).reshape(shape)
            except (OverflowError, ValueError) as error:  # a shape numpy cannot build
                raise WireError(str(error)).within(".shape") from None
        if not isinstance(data, list):
            wanted = "a list" if dtype == "str" else "a list or base64 text"
            raise expected(wanted, data).within(".data")
        if math.prod(shape) != len(data):
            raise WireError(f"shape {shape} needs {math.prod(shape)} items, data has {len(data)}")
        check_items(data, items, what, ".data")
        self._check_spec(dtype, tuple(shape))
        try:
            if dtype == "datetime64[s]":
                array = np.array(data, dtype="int64").view(numpy_dtype)
            else:
                array = np.array(data, dtype=numpy_dtype)
            return array.reshape(shape)
        except (OverflowError, ValueError) as error:
            raise WireError(str(error)) from None

    def _check_spec(self, dtype: str, shape: tuple) -> None:
        spec = self.spec
        if spec.dtype is not None and dtype != spec.dtype:
            raise WireError(f"expected an array of {spec.dtype}, got {dtype}")
        if spec.shape is not None and (
            len(shape) != len(spec.shape)
            or tuple(map(shape.__getitem__, self._fixed_axes)) != self._fixed_lengths
        ):
            raise WireError(
                f"expected an array of shape {_shape_text(spec.shape)}, got {_shape_text(shape)}"
            )


_ORDERBOOK_KEYS = frozenset({TYPE_KEY, *COLUMNS})
_COLUMN_KINDS = {
    "i": (frozenset({int}), "int", np.dtype("int64")),
    "f": (frozenset({float, int}), "float or int", np.dtype("float64")),
    "U": (frozenset({str}), "str", np.dtype(str)),
}
_ORDERBOOK_COLUMNS = tuple(
    (name, *_COLUMN_KINDS[getattr(Orderbook.empty(), name).dtype.kind]) for name in COLUMNS
)
"""Per column: name, JSON item types, their names, and the numpy dtype."""


class OrderbookConverter(Converter):
    """An orderbook travels as one entry per column: the numbers as the base64 text of their
    little-endian bytes (no float or int text to write and parse for every order), the texts
    as lists. Decoding also takes numbers as lists, and checks every column (types, lengths)
    before it builds the orderbook."""

    description = "an Orderbook"
    value_types = (Orderbook,)
    wire_types = frozenset({dict})

    def encode(self, value):
        if type(value) is not Orderbook:
            raise WireError(f"expected an Orderbook, got {type(value)}")
        wire = {TYPE_KEY: "Orderbook"}
        for name, _, _, dtype in _ORDERBOOK_COLUMNS:
            column = getattr(value, name)
            if dtype.kind == "U":
                wire[name] = column.tolist()
            else:
                wire[name] = _to_base64(column, dtype)
        return wire

    def decode(self, wire):
        if not isinstance(wire, dict) or wire.get(TYPE_KEY) != "Orderbook":
            raise expected(self.description, wire)
        check_keys(wire, _ORDERBOOK_KEYS)
        columns = {}
        for name, items, what, dtype in _ORDERBOOK_COLUMNS:
            column = wire[name]
            if type(column) is str and dtype.kind != "U":
                columns[name] = _from_base64(column, dtype, name)
                continue
            if type(column) is not list:
                raise expected("a list", column).within(f".{name}")
            check_items(column, items, what, f".{name}")
            try:
                columns[name] = np.array(column, dtype=dtype)
            except OverflowError as error:
                raise WireError(str(error)).within(f".{name}") from None
        lengths = {len(column) for column in columns.values()}
        if len(lengths) > 1:
            raise WireError(f"columns have different lengths {sorted(lengths)}")
        return Orderbook(**columns)


def _to_base64(values: np.ndarray, dtype: np.dtype) -> str:
    """``values`` as ``dtype``, as the base64 text of their little-endian bytes."""
    raw = np.ascontiguousarray(values, dtype=dtype.newbyteorder("<")).tobytes()
    return base64.b64encode(raw).decode("ascii")


def _from_base64(text: str, dtype: np.dtype, name: str) -> np.ndarray:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as error:
        raise WireError(f"not base64: {error}").within(f".{name}") from None
    if len(raw) % dtype.itemsize:
        raise WireError(
            f"{len(raw)} bytes are not a whole number of {dtype.itemsize}-byte numbers"
        ).within(f".{name}")
    return np.frombuffer(raw, dtype=dtype.newbyteorder("<")).astype(dtype)
