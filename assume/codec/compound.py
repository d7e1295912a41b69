"""Converters for compound annotations: lists, tuples, string-keyed dicts and unions.

They are built from the converters of their parts (:mod:`assume.codec.values`, or a
registered type's) and add the position, key or alternatives to a :class:`WireError`.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import contains
from typing import Any

from assume.codec.values import (
    JSON_TYPES,
    PLAIN_SCALARS,
    TYPE_KEY,
    Converter,
    WireError,
    convert_each,
    expected,
)


class ListConverter(Converter):
    """A list (or tuple) of one item type as a JSON list; decoded as a list."""

    value_types = (list, tuple)
    wire_types = frozenset({list})

    def __init__(self, item: Converter):
        self.item = item
        self.description = f"a list of {item.description}"

    def encode(self, value):
        if not isinstance(value, self.value_types):
            raise WireError(f"expected a list, got {type(value)}")
        if set(map(type, value)) <= self.item.unchanged:
            return list(value)
        return convert_each(self.item.encode, value)

    def decode(self, wire):
        if not isinstance(wire, list):
            raise expected(self.description, wire)
        if set(map(type, wire)) <= self.item.unchanged:
            return wire
        return convert_each(self.item.decode, wire)


class TupleConverter(Converter):
    """A tuple travels as a JSON list and is rebuilt as a tuple."""

    value_types = (tuple, list)
    wire_types = frozenset({list})

    def __init__(self, items: tuple[Converter, ...] | None, rest: Converter | None = None):
        self.items, self.rest = items, rest
        self.description = (
            f"a list of {rest.description}"
            if rest is not None
            else f"a list of {len(items)} items ({', '.join(c.description for c in items)})"
        )
        self._unchanged_items = tuple(item.unchanged for item in items or ())

    def _converters(self, length: int) -> tuple[Converter, ...] | None:
        if self.rest is not None:
            return (self.rest,) * length
        return self.items if length == len(self.items) else None

    def _unchanged(self, items: tuple | list) -> bool:
        if self.rest is not None:
            return set(map(type, items)) <= self.rest.unchanged
        return len(items) == len(self.items) and all(
            map(contains, self._unchanged_items, map(type, items))
        )

    def encode(self, value):
        if isinstance(value, self.value_types):
            if self._unchanged(value):
                return list(value)
            converters = self._converters(len(value))
            if converters is not None:
                pairs = enumerate(zip(converters, value, strict=True))
                return [_at(i, converter.encode, item) for i, (converter, item) in pairs]
        raise WireError(f"expected {self.description}, got {value!r}")

    def decode(self, wire):
        if isinstance(wire, list):
            if self._unchanged(wire):
                return tuple(wire)
            converters = self._converters(len(wire))
            if converters is not None:
                pairs = enumerate(zip(converters, wire, strict=True))
                return tuple(_at(i, converter.decode, item) for i, (converter, item) in pairs)
        raise expected(self.description, wire)


def _at(position: int, convert: Callable[[Any], Any], item: Any) -> Any:
    try:
        return convert(item)
    except WireError as error:
        error.within(f"[{position}]")
        raise


class DictConverter(Converter):
    """A dict with str keys as a JSON object (untagged, so no key may be the tag)."""

    value_types = (dict,)
    wire_types = frozenset({dict})

    def __init__(self, value: Converter):
        self.value = value
        self.description = f"an object of {value.description}"

    def encode(self, value):
        if not isinstance(value, dict):
            raise WireError(f"expected a dict, got {type(value)}")
        wire = {}
        encode = self.value.encode
        for key, item in value.items():
            if not isinstance(key, str) or key == TYPE_KEY:
                raise WireError(f"key {key!r} cannot be sent")
            try:
                wire[key] = encode(item)
            except WireError as error:
                error.within(f".{key}")
                raise
        return wire

    def decode(self, wire):
        if not isinstance(wire, dict) or TYPE_KEY in wire:
            raise expected(self.description, wire)
        decoded = {}
        decode = self.value.decode
        for key, item in wire.items():
            try:
                decoded[key] = decode(item)
            except WireError as error:
                error.within(f".{key}")
                raise
        return decoded


class UnionConverter(Converter):
    """The first alternative that fits, in the order of the annotation.

    Alternatives that cannot take a value's type (see :attr:`Converter.value_types` and
    :attr:`Converter.wire_types`) are skipped without being tried.
    """

    def __init__(self, options: tuple[Converter, ...]):
        self.options = options
        self.description = " or ".join(option.description for option in options)
        if all(option.value_types is not None for option in options):
            self.value_types = tuple(
                dict.fromkeys(kind for option in options for kind in option.value_types)
            )
        self.wire_types = frozenset().union(*(option.wire_types for option in options))
        self._encoders = tuple((o.value_types or (object,), o.encode) for o in options)
        self._decoders = {
            kind: tuple(option.decode for option in options if kind in option.wire_types)
            for kind in JSON_TYPES
        }
        self.unchanged = _unchanged_scalars(options)

    def encode(self, value):
        for value_types, encode in self._encoders:
            if isinstance(value, value_types):
                try:
                    return encode(value)
                except WireError:
                    continue
        raise WireError(f"expected {self.description}, got {type(value)}")

    def decode(self, wire):
        for decode in self._decoders.get(type(wire), ()):
            try:
                return decode(wire)
            except WireError:
                continue
        errors = []
        for option in self.options:
            try:
                option.decode(wire)
            except WireError as error:
                errors.append(error)
        if len(self.options) == 1 or not isinstance(wire, list | dict):
            raise expected(self.description, wire)
        raise WireError(f"fits none of {self.description}", tuple(errors))


def _unchanged_scalars(options: tuple[Converter, ...]) -> frozenset[type]:
    """The scalar types that the first alternative to take them leaves as they are, both
    ways; a union may pass them on without trying its alternatives."""
    unchanged = set()
    for kind in PLAIN_SCALARS:
        encoder = next(
            (o for o in options if o.value_types is None or issubclass(kind, o.value_types)),
            None,
        )
        decoder = next((o for o in options if kind in o.wire_types), None)
        if encoder and decoder and kind in encoder.unchanged and kind in decoder.unchanged:
            unchanged.add(kind)
    return frozenset(unchanged)
