"""Registered message types: each dataclass's annotations compiled into converters once.

:class:`Registry` holds the types that travel as tagged JSON objects (arrays, orderbooks
and registered dataclasses) and compiles annotations into converters: those of
:mod:`assume.codec.values` and :mod:`assume.codec.compound`, and here dataclasses and
``Any``.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from types import NoneType
from typing import Any

import numpy as np

from assume.codec.compound import DictConverter, ListConverter, TupleConverter, UnionConverter
from assume.codec.values import (
    PLAIN_SCALARS,
    TYPE_KEY,
    Array,
    ArrayConverter,
    Converter,
    OrderbookConverter,
    ScalarConverter,
    WireError,
    check_keys,
    convert_each,
    expected,
)
from assume.markets.orderbook import Orderbook


class MessageConverter(Converter):
    """A registered dataclass: a tagged object with exactly its init fields.

    The fields are set once the annotations are compiled (:meth:`set_fields`); a dataclass
    may refer to itself, so its converter exists before its fields do.
    """

    wire_types = frozenset({dict})

    def __init__(self, cls: type):
        self.cls = cls
        self.name = cls.__name__
        self.description = f"a {self.name}"
        self.value_types = (cls,)
        self._plan: tuple[tuple[str, frozenset[type], Converter], ...] = ()
        self._keys = frozenset({TYPE_KEY})

    def set_fields(self, fields: dict[str, Converter]) -> None:
        """Convert the fields with these converters, in this order."""
        self._plan = tuple((name, field.unchanged, field) for name, field in fields.items())
        self._keys = frozenset({TYPE_KEY, *fields})

    def encode(self, value):
        if type(value) is not self.cls:
            raise WireError(f"expected {self.description}, got {type(value)}")
        wire = {TYPE_KEY: self.name}
        for name, unchanged, field in self._plan:
            item = getattr(value, name)
            if type(item) in unchanged:
                wire[name] = item
                continue
            try:
                wire[name] = field.encode(item)
            except WireError as error:
                error.within(f".{name}")
                raise
        return wire

    def decode(self, wire):
        if not isinstance(wire, dict) or wire.get(TYPE_KEY) != self.name:
            raise expected(self.description, wire)
        # exactly the tag and the fields: as many keys, and none of the fields missing (a
        # missing or unknown field is reported before the errors of the fields)
        if len(wire) != len(self._keys):
            check_keys(wire, self._keys)
        values = {}
        try:
            for name, unchanged, field in self._plan:
                item = wire[name]
                if type(item) in unchanged:
                    values[name] = item
                    continue
                try:
                    values[name] = field.decode(item)
                except WireError as error:
                    check_keys(wire, self._keys)
                    error.within(f".{name}")
                    raise
        except KeyError:
            check_keys(wire, self._keys)
            raise
        try:
            return self.cls(**values)
        except Exception as error:  # the type's own __post_init__ checks refuse the values
            raise WireError(f"{self.name} refused its fields: {error}") from None


SCALAR = UnionConverter(tuple(ScalarConverter(kind) for kind in (str, int, float, bool, NoneType)))
"""Any JSON scalar (see :data:`assume.codec.values.Scalar`)."""
ARRAY = ArrayConverter()
ORDERBOOK = OrderbookConverter()


class AnyConverter(Converter):
    """Any value the codec can carry: scalars, lists, string-keyed dicts, and tagged values
    (arrays, orderbooks, registered messages) recognised by their ``__type__``."""

    description = "any value"
    unchanged = PLAIN_SCALARS

    def __init__(self, registry: Registry):
        self.registry = registry
        self.dict = DictConverter(self)

    def encode(self, value):
        if type(value) in PLAIN_SCALARS:
            return value
        if isinstance(value, str | bool | int | float | np.generic):
            return SCALAR.encode(value)
        if isinstance(value, np.ndarray):
            return ARRAY.encode(value)
        if isinstance(value, list | tuple):
            return convert_each(self.encode, value)
        if isinstance(value, dict):
            return self.dict.encode(value)
        return self.registry.converter_of(value).encode(value)

    def decode(self, wire):
        kind = type(wire)
        if kind is list:
            return convert_each(self.decode, wire)
        if kind is dict:
            if TYPE_KEY in wire:
                return self.registry.converter_of_tag(wire[TYPE_KEY]).decode(wire)
            return self.dict.decode(wire)
        return wire


class Registry:
    """The types that travel as tagged objects, each with its converter.

    ``reserved`` are tags taken by someone else (the envelopes).
    """

    def __init__(self, reserved: tuple[str, ...] = ()):
        self.reserved = reserved
        self.any = AnyConverter(self)
        self.by_tag: dict[str, Converter] = {"ndarray": ARRAY, "Orderbook": ORDERBOOK}
        self.messages: dict[type, MessageConverter] = {}

    def register(self, cls: type, field_types: dict[str, Any] | None = None) -> None:
        """Let instances of the dataclass ``cls`` travel; see
        :meth:`assume.codec.MessageCodec.register_message_type`."""
        if cls in self.messages:
            return
        if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
            raise TypeError(f"{cls!r} is not a dataclass")
        if cls.__name__ in self.by_tag or cls.__name__ in self.reserved:
            raise ValueError(f"a message type named {cls.__name__} is already registered")
        converter = self.by_tag[cls.__name__] = self.messages[cls] = MessageConverter(cls)
        try:
            try:
                hints = typing.get_type_hints(cls, include_extras=True)
            except NameError as error:
                raise TypeError(
                    f"cannot resolve the annotations of {cls.__name__}: {error}"
                ) from None
            hints.update(field_types or {})
            fields = {}
            for field in dataclasses.fields(cls):
                if field.init:
                    if field.name == TYPE_KEY:
                        raise TypeError(f"a field cannot be named {TYPE_KEY}")
                    fields[field.name] = self.compile(hints[field.name], field.name)
            converter.set_fields(fields)
        except Exception:
            del self.by_tag[cls.__name__], self.messages[cls]
            raise

    def converter_of(self, value: Any) -> Converter:
        """The converter of a value of a tagged type."""
        if type(value) is Orderbook:
            return ORDERBOOK
        converter = self.messages.get(type(value))
        if converter is None:
            raise WireError(
                f"{type(value).__name__} is not a registered message type "
                "(see MessageCodec.register_message_type)"
            )
        return converter

    def converter_of_tag(self, tag: Any) -> Converter:
        """The converter of the tagged type ``tag``."""
        converter = self.by_tag.get(tag) if isinstance(tag, str) else None
        if converter is None:
            raise WireError(f"unknown {TYPE_KEY} {tag!r}")
        return converter

    def compile(self, annotation: Any, name: str) -> Converter:
        """The converter for the annotation of field ``name``; TypeError for what cannot go
        on the wire. Dataclasses in the annotation are registered."""
        origin, args = typing.get_origin(annotation), typing.get_args(annotation)
        if annotation is Any or annotation is object:
            return self.any
        if annotation in (str, int, float, bool, None, NoneType):
            return ScalarConverter(NoneType if annotation is None else annotation)
        if annotation is np.ndarray:
            return ArrayConverter()
        if origin is typing.Annotated:
            specs = [meta for meta in annotation.__metadata__ if isinstance(meta, Array)]
            if args[0] is np.ndarray and specs:
                return ArrayConverter(specs[0])
            return self.compile(args[0], name)
        if isinstance(annotation, Array):
            return ArrayConverter(annotation)
        if annotation is Orderbook:
            return ORDERBOOK
        if origin in (typing.Union, types.UnionType):
            return UnionConverter(tuple(self.compile(arg, name) for arg in args))
        if annotation is list or origin is list:
            return ListConverter(self.compile(args[0], name) if args else self.any)
        if annotation is tuple or origin is tuple:
            if not args or (len(args) == 2 and args[1] is Ellipsis):
                return TupleConverter(None, self.compile(args[0], name) if args else self.any)
            return TupleConverter(tuple(self.compile(arg, name) for arg in args))
        if annotation is dict or origin is dict:
            if args and args[0] is not str:
                raise TypeError(f"field {name}: dict keys must be str on the wire, not {args[0]}")
            return DictConverter(self.compile(args[1], name) if args else self.any)
        if isinstance(annotation, type) and dataclasses.is_dataclass(annotation):
            self.register(annotation)
            return self.messages[annotation]
        raise TypeError(f"field {name}: {annotation!r} cannot go on the wire")
