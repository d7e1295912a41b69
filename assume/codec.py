"""The wire format between containers: JSON with explicitly registered message types.

A frame is one mango envelope (``MangoMessage``, or ``ACLMessage`` if an agent builds one)
whose content is a registered message or a JSON scalar (mango's distributed clock sends
strings and numbers). Typed values are JSON objects tagged with ``__type__``::

    {"__type__": "MangoMessage",
     "content": {"__type__": "Opening", "market_id": "EOM", "opening": 0, "closing": 3600,
                 "products": {"__type__": "ndarray", "dtype": "int64", "shape": [24, 2],
                              "data": [0, 3600, ...]}},
     "meta": {"sender_id": "market_EOM", "sender_addr": ["127.0.0.1", 9010], ...}}

Every field is encoded and checked against its annotation, so a frame that decodes is a
message the receiver can use. Floats travel as JSON numbers plus the ``NaN``, ``Infinity``
and ``-Infinity`` tokens of Python's json module: a NaN price arrives as NaN (rejecting it
is the market's job, not the codec's). Decoding never unpickles or evaluates anything, and
every defect of an incoming frame raises :class:`MalformedMessage`.
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from collections.abc import Iterable
from typing import Any

import numpy as np
from mango.messages.codecs import Codec, DecodeError, SerializationError
from mango.messages.message import ACLMessage, AgentAddress, MangoMessage, Performatives

from assume.markets.orderbook import COLUMNS, Orderbook
from assume.messages import MESSAGE_TYPES, Opening, OutputRows

TYPE_KEY = "__type__"


class MalformedMessage(DecodeError):
    """An incoming frame that is not a well-formed message of a registered type."""


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

_DTYPES = {
    "float64": (np.dtype("float64"), (float, int)),
    "int64": (np.dtype("int64"), (int,)),
    "bool": (np.dtype("bool"), (bool,)),
    "datetime64[s]": (np.dtype("datetime64[s]"), (int,)),
    "str": (np.dtype(str), (str,)),
}
"""Array dtypes on the wire: name -> (dtype, JSON item types). Datetimes travel as int64
seconds (NaT as the smallest int64); strings as str, decoded to the narrowest ``<U`` dtype."""

_ORDERBOOK_KINDS = {name: getattr(Orderbook.empty(), name).dtype.kind for name in COLUMNS}
_ORDERBOOK_ITEMS = {"i": (int,), "f": (float, int), "U": (str,)}
_ORDERBOOK_DTYPES = {"i": "int64", "f": "float64", "U": str}

_ACL_ADDRESS_FIELDS = ("sender_addr", "receiver_addr", "reply_to")
_ACL_FIELDS = (
    "sender_id",
    "receiver_id",
    "conversation_id",
    "reply_by",
    "in_reply_to",
    "protocol",
    "language",
    "encoding",
    "ontology",
    "reply_with",
)
_META_ADDRESS_KEYS = ("sender_addr", "receiver_addr", "forwarded_from_addr")


def _json_type(wire: Any) -> str:
    if isinstance(wire, dict):
        return f"an object tagged {wire[TYPE_KEY]!r}" if TYPE_KEY in wire else "an object"
    return {list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(wire), "a number"
    )


def _malformed(path: str, expected: str, wire: Any) -> MalformedMessage:
    return MalformedMessage(f"{path}: expected {expected}, got {_json_type(wire)}")


def _check_items(items: list, allowed: tuple[type, ...], path: str, what: str) -> None:
    # type() rather than isinstance(): True must not pass as an int or a float
    wrong = set(map(type, items)).difference(allowed)
    if wrong:
        position = next(i for i, item in enumerate(items) if type(item) in wrong)
        raise _malformed(f"{path}[{position}]", what, items[position])


class _Shape:
    """How values of one annotation are encoded to JSON values and checked when decoded."""

    description = "a value"

    def encode(self, value: Any, path: str) -> Any:
        raise NotImplementedError

    def decode(self, wire: Any, path: str) -> Any:
        raise NotImplementedError


class _ScalarShape(_Shape):
    def __init__(self, kind: type):
        self.kind = kind
        self.description = {str: "a string", int: "an integer", float: "a number"}.get(
            kind, "a boolean" if kind is bool else "null"
        )

    def encode(self, value, path):
        if self._fits(value):
            return None if value is None else self.kind(value)
        raise SerializationError(f"{path}: expected {self.description}, got {type(value)}")

    def _fits(self, value) -> bool:
        kind = self.kind
        if kind is type(None):
            return value is None
        if kind is str:
            return isinstance(value, str)
        if kind is bool:
            return isinstance(value, bool | np.bool_)
        if isinstance(value, bool | np.bool_):
            return False
        if kind is int:
            return isinstance(value, int | np.integer)
        return isinstance(value, float | int | np.floating | np.integer)

    def decode(self, wire, path):
        if type(wire) is self.kind or (self.kind is type(None) and wire is None):
            return wire
        if self.kind is float and type(wire) is int:
            try:
                return float(wire)
            except OverflowError:
                raise MalformedMessage(f"{path}: {wire} is out of the float range") from None
        raise _malformed(path, self.description, wire)


class _ArrayShape(_Shape):
    def __init__(self, spec: Array = Array()):
        if spec.dtype is not None and spec.dtype not in _DTYPES:
            raise TypeError(f"Array dtype must be one of {', '.join(_DTYPES)}, not {spec.dtype}")
        self.spec = spec
        shape = "" if spec.shape is None else f" of shape {_shape_text(spec.shape)}"
        self.description = f"an array{shape} of {spec.dtype or 'any dtype'}"

    def encode(self, value, path):
        if not isinstance(value, np.ndarray):
            raise SerializationError(f"{path}: expected an ndarray, got {type(value)}")
        dtype = _dtype_name(value.dtype)
        if dtype is None:
            raise SerializationError(
                f"{path}: arrays of dtype {value.dtype} cannot be sent; "
                f"use one of {', '.join(_DTYPES)}"
            )
        self._check_spec(dtype, value.shape, path, SerializationError)
        data = value.astype("int64") if dtype == "datetime64[s]" else value
        return {
            TYPE_KEY: "ndarray",
            "dtype": dtype,
            "shape": list(value.shape),
            "data": data.ravel().tolist(),
        }

    def decode(self, wire, path):
        if not isinstance(wire, dict) or wire.get(TYPE_KEY) != "ndarray":
            raise _malformed(path, self.description, wire)
        _check_keys(wire, ("dtype", "shape", "data"), path)
        dtype, shape, data = wire["dtype"], wire["shape"], wire["data"]
        if type(dtype) is not str or dtype not in _DTYPES:
            raise MalformedMessage(f"{path}.dtype: {dtype!r} is not one of {', '.join(_DTYPES)}")
        if not isinstance(shape, list) or any(type(n) is not int or n < 0 for n in shape):
            raise _malformed(f"{path}.shape", "a list of non-negative integers", shape)
        if not isinstance(data, list):
            raise _malformed(f"{path}.data", "a list", data)
        if math.prod(shape) != len(data):
            raise MalformedMessage(
                f"{path}: shape {shape} needs {math.prod(shape)} items, data has {len(data)}"
            )
        numpy_dtype, items = _DTYPES[dtype]
        _check_items(data, items, f"{path}.data", " or ".join(t.__name__ for t in items))
        self._check_spec(dtype, tuple(shape), path, MalformedMessage)
        try:
            if dtype == "datetime64[s]":
                array = np.array(data, dtype="int64").view(numpy_dtype)
            else:
                array = np.array(data, dtype=numpy_dtype)
            return array.reshape(shape)
        except (OverflowError, ValueError) as error:
            raise MalformedMessage(f"{path}: {error}") from None

    def _check_spec(self, dtype: str, shape: tuple, path: str, error: type[Exception]) -> None:
        spec = self.spec
        if spec.dtype is not None and dtype != spec.dtype:
            raise error(f"{path}: expected an array of {spec.dtype}, got {dtype}")
        if spec.shape is not None and (
            len(shape) != len(spec.shape)
            or any(
                want is not None and want != n for want, n in zip(spec.shape, shape, strict=False)
            )
        ):
            raise error(
                f"{path}: expected an array of shape {_shape_text(spec.shape)}, "
                f"got {_shape_text(shape)}"
            )


def _dtype_name(dtype: np.dtype) -> str | None:
    if dtype.kind == "U":
        return "str"
    return next((name for name, (known, _) in _DTYPES.items() if dtype == known), None)


def _shape_text(shape: Iterable[int | None]) -> str:
    text = ", ".join("n" if n is None else str(n) for n in shape)
    return f"({text},)" if len(shape) == 1 else f"({text})"


class _OrderbookShape(_Shape):
    """An orderbook travels as :meth:`Orderbook.to_wire` (one list per column)."""

    description = "an Orderbook"

    def encode(self, value, path):
        if type(value) is not Orderbook:
            raise SerializationError(f"{path}: expected an Orderbook, got {type(value)}")
        return {TYPE_KEY: "Orderbook", **value.to_wire()}

    def decode(self, wire, path):
        # Orderbook.from_wire converts leniently (numeric strings, truncated floats, and an
        # empty book fails its text check), so the columns are checked and built here.
        if not isinstance(wire, dict) or wire.get(TYPE_KEY) != "Orderbook":
            raise _malformed(path, self.description, wire)
        _check_keys(wire, COLUMNS, path)
        lengths = set()
        for name in COLUMNS:
            column = wire[name]
            if not isinstance(column, list):
                raise _malformed(f"{path}.{name}", "a list", column)
            items = _ORDERBOOK_ITEMS[_ORDERBOOK_KINDS[name]]
            _check_items(column, items, f"{path}.{name}", " or ".join(t.__name__ for t in items))
            lengths.add(len(column))
        if len(lengths) > 1:
            raise MalformedMessage(f"{path}: columns have different lengths {sorted(lengths)}")
        columns = {}
        for name in COLUMNS:
            try:
                columns[name] = np.array(
                    wire[name], dtype=_ORDERBOOK_DTYPES[_ORDERBOOK_KINDS[name]]
                )
            except OverflowError as error:
                raise MalformedMessage(f"{path}.{name}: {error}") from None
        return Orderbook(**columns)


class _ListShape(_Shape):
    def __init__(self, item: _Shape):
        self.item = item
        self.description = f"a list of {item.description}"

    def encode(self, value, path):
        if not isinstance(value, list | tuple):
            raise SerializationError(f"{path}: expected a list, got {type(value)}")
        return [self.item.encode(item, f"{path}[{i}]") for i, item in enumerate(value)]

    def decode(self, wire, path):
        if not isinstance(wire, list):
            raise _malformed(path, self.description, wire)
        return [self.item.decode(item, f"{path}[{i}]") for i, item in enumerate(wire)]


class _TupleShape(_Shape):
    """A tuple travels as a JSON list and is rebuilt as a tuple."""

    def __init__(self, items: tuple[_Shape, ...] | None, rest: _Shape | None = None):
        self.items, self.rest = items, rest
        self.description = (
            f"a list of {rest.description}"
            if rest is not None
            else f"a list of {len(items)} items ({', '.join(s.description for s in items)})"
        )

    def _shapes(self, length: int) -> tuple[_Shape, ...] | None:
        if self.rest is not None:
            return (self.rest,) * length
        return self.items if length == len(self.items) else None

    def encode(self, value, path):
        shapes = self._shapes(len(value)) if isinstance(value, tuple | list) else None
        if shapes is None:
            raise SerializationError(f"{path}: expected {self.description}, got {value!r}")
        return [
            shape.encode(item, f"{path}[{i}]")
            for i, (shape, item) in enumerate(zip(shapes, value, strict=True))
        ]

    def decode(self, wire, path):
        shapes = self._shapes(len(wire)) if isinstance(wire, list) else None
        if shapes is None:
            raise _malformed(path, self.description, wire)
        return tuple(
            shape.decode(item, f"{path}[{i}]")
            for i, (shape, item) in enumerate(zip(shapes, wire, strict=True))
        )


class _DictShape(_Shape):
    def __init__(self, value: _Shape):
        self.value = value
        self.description = f"an object of {value.description}"

    def encode(self, value, path):
        if not isinstance(value, dict):
            raise SerializationError(f"{path}: expected a dict, got {type(value)}")
        wire = {}
        for key, item in value.items():
            if not isinstance(key, str) or key == TYPE_KEY:
                raise SerializationError(f"{path}: key {key!r} cannot be sent")
            wire[str(key)] = self.value.encode(item, f"{path}.{key}")
        return wire

    def decode(self, wire, path):
        if not isinstance(wire, dict) or TYPE_KEY in wire:
            raise _malformed(path, self.description, wire)
        return {key: self.value.decode(item, f"{path}.{key}") for key, item in wire.items()}


class _UnionShape(_Shape):
    """The first alternative that fits, in the order of the annotation."""

    def __init__(self, options: tuple[_Shape, ...]):
        self.options = options
        self.description = " or ".join(option.description for option in options)

    def encode(self, value, path):
        for option in self.options:
            try:
                return option.encode(value, path)
            except SerializationError:
                continue
        raise SerializationError(f"{path}: expected {self.description}, got {type(value)}")

    def decode(self, wire, path):
        errors = []
        for option in self.options:
            try:
                return option.decode(wire, path)
            except MalformedMessage as error:
                errors.append(str(error))
        if len(errors) == 1 or not isinstance(wire, list | dict):
            raise _malformed(path, self.description, wire)
        raise MalformedMessage(f"{path}: fits none of {self.description}: {'; '.join(errors)}")


class _MessageShape(_Shape):
    """A registered dataclass: a tagged object with exactly its init fields."""

    def __init__(self, cls: type):
        self.cls = cls
        self.name = cls.__name__
        self.description = f"a {self.name}"
        self.fields: dict[str, _Shape] = {}

    def encode(self, value, path):
        if type(value) is not self.cls:
            raise SerializationError(f"{path}: expected {self.description}, got {type(value)}")
        wire = {TYPE_KEY: self.name}
        for name, shape in self.fields.items():
            wire[name] = shape.encode(getattr(value, name), f"{path}.{name}")
        return wire

    def decode(self, wire, path):
        if not isinstance(wire, dict) or wire.get(TYPE_KEY) != self.name:
            raise _malformed(path, self.description, wire)
        _check_keys(wire, self.fields, path)
        values = {
            name: shape.decode(wire[name], f"{path}.{name}") for name, shape in self.fields.items()
        }
        try:
            return self.cls(**values)
        except Exception as error:  # the type's own __post_init__ checks refuse the values
            raise MalformedMessage(f"{path}: {self.name} refused its fields: {error}") from None


def _check_keys(wire: dict, expected: Iterable[str], path: str) -> None:
    expected = set(expected)
    present = wire.keys() - {TYPE_KEY}
    missing, extra = sorted(expected - present), sorted(present - expected)
    if missing:
        raise MalformedMessage(f"{path}: missing field(s) {', '.join(missing)}")
    if extra:
        raise MalformedMessage(f"{path}: unknown field(s) {', '.join(map(repr, extra))}")


class _AnyShape(_Shape):
    """Any value the codec can carry: scalars, lists, string-keyed dicts, and tagged values
    (arrays, orderbooks, registered messages) recognised by their ``__type__``."""

    description = "any value"

    def __init__(self, codec: MessageCodec):
        self.codec = codec

    def encode(self, value, path):
        if value is None or isinstance(value, str | bool | int | float | np.generic):
            return _SCALAR.encode(value, path)
        if isinstance(value, np.ndarray):
            return _ARRAY.encode(value, path)
        if isinstance(value, list | tuple):
            return [self.encode(item, f"{path}[{i}]") for i, item in enumerate(value)]
        if isinstance(value, dict):
            return _DictShape(self).encode(value, path)
        return self.codec._shape_of_value(value, path).encode(value, path)

    def decode(self, wire, path):
        if isinstance(wire, list):
            return [self.decode(item, f"{path}[{i}]") for i, item in enumerate(wire)]
        if isinstance(wire, dict):
            if TYPE_KEY in wire:
                return self.codec._shape_of_tag(wire[TYPE_KEY], path).decode(wire, path)
            return {key: self.decode(item, f"{path}.{key}") for key, item in wire.items()}
        return wire


class _ContentShape(_Shape):
    """The content of an envelope: a registered message or a JSON scalar."""

    description = "a registered message or a scalar"

    def __init__(self, codec: MessageCodec):
        self.codec = codec

    def encode(self, value, path):
        if value is None or isinstance(value, str | bool | int | float | np.generic):
            return _SCALAR.encode(value, path)
        shape = self.codec._shape_of_value(value, path)
        if not isinstance(shape, _MessageShape):
            raise SerializationError(f"{path}: {type(value).__name__} is not a message type")
        return shape.encode(value, shape.name)

    def decode(self, wire, path):
        if isinstance(wire, dict) and TYPE_KEY in wire:
            shape = self.codec._shape_of_tag(wire[TYPE_KEY], path)
            if isinstance(shape, _MessageShape):
                return shape.decode(wire, shape.name)
        return _SCALAR.decode(wire, path)


_SCALAR = _UnionShape(tuple(_ScalarShape(kind) for kind in (str, int, float, bool, type(None))))
_ARRAY = _ArrayShape()
_ADDRESS = _UnionShape(
    (
        _ScalarShape(str),
        _TupleShape((_ScalarShape(str), _ScalarShape(int))),
        _ScalarShape(type(None)),
    )
)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict:
    wire = dict(pairs)
    if len(wire) != len(pairs):
        keys = [key for key, _ in pairs]
        duplicate = next(key for key in keys if keys.count(key) > 1)
        raise MalformedMessage(f"an object repeats the key {duplicate!r}")
    return wire


class MessageCodec(Codec):
    """A mango codec for registered message types only; see the module docstring."""

    def __init__(self):
        super().__init__()
        self._any = _AnyShape(self)
        self._content = _ContentShape(self)
        self._meta = _DictShape(self._any)
        self._tags: dict[str, _Shape] = {"ndarray": _ARRAY, "Orderbook": _OrderbookShape()}
        self._messages: dict[type, _MessageShape] = {}
        self.register_message_type(
            AgentAddress, field_types={"protocol_addr": str | tuple[str, int]}
        )

    def __str__(self) -> str:
        return f"{type(self).__name__}[{', '.join(self._tags)}]"

    def register_message_type(self, cls: type, field_types: dict[str, Any] | None = None) -> None:
        """Let instances of the dataclass ``cls`` travel; ``field_types`` replaces the
        annotations of some fields (to narrow ``np.ndarray`` with an :class:`Array`, say).

        Dataclasses used in its fields are registered with it. Registering a class again is
        a no-op; a different class with a taken name is an error.
        """
        if cls in self._messages:
            return
        if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
            raise TypeError(f"{cls!r} is not a dataclass")
        if cls.__name__ in self._tags or cls.__name__ in ("MangoMessage", "ACLMessage"):
            raise ValueError(f"a message type named {cls.__name__} is already registered")
        shape = self._tags[cls.__name__] = self._messages[cls] = _MessageShape(cls)
        try:
            try:
                hints = typing.get_type_hints(cls, include_extras=True)
            except NameError as error:
                raise TypeError(
                    f"cannot resolve the annotations of {cls.__name__}: {error}"
                ) from None
            hints.update(field_types or {})
            for field in dataclasses.fields(cls):
                if field.init:
                    if field.name == TYPE_KEY:
                        raise TypeError(f"a field cannot be named {TYPE_KEY}")
                    shape.fields[field.name] = self._compile(hints[field.name], field.name)
        except Exception:
            del self._tags[cls.__name__], self._messages[cls]
            raise

    def add_serializer(self, otype, serialize, deserialize, type_id=None):
        raise TypeError(
            f"{type(self).__name__} takes dataclasses only: use register_message_type({otype!r})"
        )

    def encode(self, data: MangoMessage | ACLMessage) -> bytes:
        """A mango envelope as JSON bytes; :class:`SerializationError` names what cannot go."""
        if isinstance(data, MangoMessage):
            meta = data.meta if data.meta is not None else {}
            wire = {
                TYPE_KEY: "MangoMessage",
                "content": self._content.encode(data.content, "content"),
                "meta": self._encode_meta(meta),
            }
        elif isinstance(data, ACLMessage):
            wire = self._encode_acl(data)
        else:
            raise SerializationError(
                f"only MangoMessage or ACLMessage envelopes go on the wire, not {type(data)}"
            )
        try:
            return json.dumps(wire, separators=(",", ":")).encode()
        except (ValueError, RecursionError) as error:
            raise SerializationError(f"cannot encode {type(data).__name__}: {error}") from error

    def decode(self, data: bytes) -> MangoMessage | ACLMessage:
        """The envelope in ``data``; raises :class:`MalformedMessage` on any defect."""
        if not isinstance(data, bytes | bytearray | memoryview):
            raise MalformedMessage(f"a frame must be bytes, not {type(data).__name__}")
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError as error:
            raise MalformedMessage(f"frame is not UTF-8: {error}") from None
        try:
            wire = json.loads(text, object_pairs_hook=_unique_keys)
        except RecursionError:
            raise MalformedMessage("frame nests too deeply") from None
        except ValueError as error:
            raise MalformedMessage(f"frame is not JSON: {error}") from None
        try:
            return self._decode_envelope(wire)
        except RecursionError:
            raise MalformedMessage("frame nests too deeply") from None

    def _decode_envelope(self, wire: Any) -> MangoMessage | ACLMessage:
        tag = wire.get(TYPE_KEY) if isinstance(wire, dict) else None
        if tag == "MangoMessage":
            _check_keys(wire, ("content", "meta"), "MangoMessage")
            content = self._content.decode(wire["content"], "content")
            return MangoMessage(content, self._decode_meta(wire["meta"]))
        if tag == "ACLMessage":
            return self._decode_acl(wire)
        raise MalformedMessage(
            f"frame is not a MangoMessage or ACLMessage envelope: got {_json_type(wire)}"
        )

    def _encode_meta(self, meta: dict) -> dict:
        wire = self._meta.encode(meta, "meta")
        for key in _META_ADDRESS_KEYS:
            if key in meta:
                wire[key] = _ADDRESS.encode(meta[key], f"meta.{key}")
        return wire

    def _decode_meta(self, wire: Any) -> dict:
        meta = self._meta.decode(wire, "meta")
        for key in _META_ADDRESS_KEYS:
            if key in wire:
                meta[key] = _ADDRESS.decode(wire[key], f"meta.{key}")
        return meta

    def _encode_acl(self, message: ACLMessage) -> dict:
        unknown = vars(message).keys() - {
            *_ACL_FIELDS,
            *_ACL_ADDRESS_FIELDS,
            "content",
            "performative",
        }
        if unknown:
            raise SerializationError(
                f"ACLMessage attribute(s) {', '.join(sorted(unknown))} cannot be sent"
            )
        performative = message.performative
        if performative is not None and not isinstance(performative, Performatives):
            raise SerializationError(
                f"ACLMessage.performative: {performative!r} is not a Performatives"
            )
        wire = {TYPE_KEY: "ACLMessage"}
        wire.update({name: _SCALAR.encode(getattr(message, name), name) for name in _ACL_FIELDS})
        wire.update(
            {name: _ADDRESS.encode(getattr(message, name), name) for name in _ACL_ADDRESS_FIELDS}
        )
        wire["performative"] = None if performative is None else performative.value
        wire["content"] = self._content.encode(message.content, "content")
        return wire

    def _decode_acl(self, wire: dict) -> ACLMessage:
        _check_keys(
            wire, (*_ACL_FIELDS, *_ACL_ADDRESS_FIELDS, "content", "performative"), "ACLMessage"
        )
        message = ACLMessage()
        for name in _ACL_FIELDS:
            setattr(message, name, _SCALAR.decode(wire[name], f"ACLMessage.{name}"))
        for name in _ACL_ADDRESS_FIELDS:
            setattr(message, name, _ADDRESS.decode(wire[name], f"ACLMessage.{name}"))
        performative = wire["performative"]
        if performative is not None:
            try:
                performative = Performatives(performative) if type(performative) is int else None
            except ValueError:
                performative = None
            if performative is None:
                raise _malformed(
                    "ACLMessage.performative", "a Performatives value", wire["performative"]
                )
        message.performative = performative
        message.content = self._content.decode(wire["content"], "ACLMessage.content")
        return message

    def _shape_of_value(self, value: Any, path: str) -> _Shape:
        if type(value) is Orderbook:
            return self._tags["Orderbook"]
        shape = self._messages.get(type(value))
        if shape is None:
            raise SerializationError(
                f"{path}: {type(value).__name__} is not a registered message type "
                "(see MessageCodec.register_message_type)"
            )
        return shape

    def _shape_of_tag(self, tag: Any, path: str) -> _Shape:
        shape = self._tags.get(tag) if isinstance(tag, str) else None
        if shape is None:
            raise MalformedMessage(f"{path}: unknown {TYPE_KEY} {tag!r}")
        return shape

    def _compile(self, annotation: Any, name: str) -> _Shape:
        """The shape for a field annotation; TypeError for what cannot go on the wire."""
        origin, args = typing.get_origin(annotation), typing.get_args(annotation)
        if annotation is Any or annotation is object:
            return self._any
        if annotation in (str, int, float, bool, None, type(None)):
            return _ScalarShape(type(None) if annotation is None else annotation)
        if annotation is np.ndarray:
            return _ArrayShape()
        if origin is typing.Annotated:
            specs = [meta for meta in annotation.__metadata__ if isinstance(meta, Array)]
            if args[0] is np.ndarray and specs:
                return _ArrayShape(specs[0])
            return self._compile(args[0], name)
        if isinstance(annotation, Array):
            return _ArrayShape(annotation)
        if annotation is Orderbook:
            return self._tags["Orderbook"]
        if origin in (typing.Union, types.UnionType):
            return _UnionShape(tuple(self._compile(arg, name) for arg in args))
        if annotation is list or origin is list:
            return _ListShape(self._compile(args[0], name) if args else self._any)
        if annotation is tuple or origin is tuple:
            if not args or (len(args) == 2 and args[1] is Ellipsis):
                return _TupleShape(None, self._compile(args[0], name) if args else self._any)
            return _TupleShape(tuple(self._compile(arg, name) for arg in args))
        if annotation is dict or origin is dict:
            if args and args[0] is not str:
                raise TypeError(f"field {name}: dict keys must be str on the wire, not {args[0]}")
            return _DictShape(self._compile(args[1], name) if args else self._any)
        if isinstance(annotation, type) and dataclasses.is_dataclass(annotation):
            self.register_message_type(annotation)
            return self._messages[annotation]
        raise TypeError(f"field {name}: {annotation!r} cannot go on the wire")


_COLUMNS = dict[str, typing.Annotated[np.ndarray, Array(shape=(None,))] | list[Scalar]]

_WIRE_CONTRACT = {
    # What the annotations in assume.messages leave open: products are (n, 2) int64
    # start/end pairs, and operators send unit_dispatch as a list of column dicts (one per
    # unit type) although OutputRows.columns is annotated as a dict.
    Opening: {"products": Array("int64", (None, 2))},
    OutputRows: {"columns": _COLUMNS | list[_COLUMNS]},
}


def make_codec() -> MessageCodec:
    """The codec for assume's containers: all of :data:`assume.messages.MESSAGE_TYPES`."""
    codec = MessageCodec()
    for cls in MESSAGE_TYPES:
        codec.register_message_type(cls, field_types=_WIRE_CONTRACT.get(cls))
    return codec
