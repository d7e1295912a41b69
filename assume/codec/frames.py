"""The mango codec: envelopes (``MangoMessage``, ``ACLMessage``) as JSON bytes.

The content of an envelope is a registered message or a JSON scalar, its metadata a
string-keyed object whose addresses are checked as addresses and whose link fields (the
session ids, sequence numbers and acknowledgements of :mod:`assume.distributed.mqtt`) as
such; the converters for both come from :mod:`assume.codec.schema`.
"""

from __future__ import annotations

import json
import json.scanner
import typing
from types import NoneType
from typing import Any

import numpy as np
from mango.messages.codecs import Codec, DecodeError, SerializationError
from mango.messages.message import ACLMessage, AgentAddress, MangoMessage, Performatives

from assume.codec.compound import TupleConverter, UnionConverter
from assume.codec.schema import SCALAR, MessageConverter, Registry
from assume.codec.values import (
    PLAIN_SCALARS,
    TYPE_KEY,
    Array,
    Converter,
    Scalar,
    ScalarConverter,
    WireError,
    check_keys,
    expected,
    json_type,
)
from assume.messages import MESSAGE_TYPES, Opening, OutputRows


class MalformedMessage(DecodeError):
    """An incoming frame that is not a well-formed message of a registered type."""


_ENVELOPES = ("MangoMessage", "ACLMessage")
_FRAME_TYPES = (bytes, bytearray, memoryview)

_MANGO_KEYS = frozenset({TYPE_KEY, "content", "meta"})
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
_ACL_ATTRIBUTES = frozenset({*_ACL_FIELDS, *_ACL_ADDRESS_FIELDS, "content", "performative"})
_ACL_KEYS = _ACL_ATTRIBUTES | {TYPE_KEY}


class AddressConverter(Converter):
    """A mango protocol address: an MQTT topic, a (host, port) pair, or none.

    The shapes mango sends are checked here directly; anything else goes through the
    general union, for its conversions (numpy ints, str subclasses) and its errors.
    """

    general = UnionConverter(
        (
            ScalarConverter(str),
            TupleConverter((ScalarConverter(str), ScalarConverter(int))),
            ScalarConverter(NoneType),
        )
    )
    description = general.description

    def encode(self, value):
        if value is None or type(value) is str:
            return value
        if _is_host_and_port(value, tuple):
            return list(value)
        return self.general.encode(value)

    def decode(self, wire):
        if wire is None or type(wire) is str:
            return wire
        if _is_host_and_port(wire, list):
            return tuple(wire)
        return self.general.decode(wire)


def _is_host_and_port(address: Any, kind: type) -> bool:
    return (
        type(address) is kind
        and len(address) == 2
        and type(address[0]) is str
        and type(address[1]) is int
    )


ADDRESS = AddressConverter()


class CountConverter(Converter):
    """A sequence number or an acknowledgement: a JSON integer of at least ``minimum``."""

    def __init__(self, minimum: int):
        self.minimum = minimum
        self.description = f"an integer >= {minimum}"

    def encode(self, value):
        if type(value) is int and value >= self.minimum:
            return value
        raise WireError(f"expected {self.description}, got {value!r}")

    def decode(self, wire):
        if type(wire) is not int:
            raise expected(self.description, wire)
        if wire < self.minimum:
            raise WireError(f"expected {self.description}, got {wire}")
        return wire


_META_FIELDS: dict[str, Converter] = {
    "sender_addr": ADDRESS,
    "receiver_addr": ADDRESS,
    "forwarded_from_addr": ADDRESS,
    # the exactly-once links between MQTT containers (assume.distributed.mqtt)
    "session": ScalarConverter(str),
    "peer_session": UnionConverter((ScalarConverter(str), ScalarConverter(NoneType))),
    "seq": CountConverter(1),
    "ack": CountConverter(0),
}
"""Metadata fields that are checked as what they are; any other field is any value."""

# Made once: json.dumps and json.loads build an encoder or a decoder per call when given
# options. The wire is built afresh by the converters, so it has no cycles to look for.
_JSON_ENCODER = json.JSONEncoder(separators=(",", ":"), check_circular=False)
# metadata texts MessageCodec.encode_posted keeps at most (one per sender and receiver)
_KEPT_METADATA = 4096


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict:
    wire = dict(pairs)
    if len(wire) != len(pairs):
        keys = [key for key, _ in pairs]
        duplicate = next(key for key in keys if keys.count(key) > 1)
        raise MalformedMessage(f"an object repeats the key {duplicate!r}")
    return wire


_JSON_DECODER = json.JSONDecoder(object_pairs_hook=_unique_keys)
_JSON_SCAN = json.scanner.make_scanner(_JSON_DECODER)


def _parse_json(text: str) -> Any:
    """The JSON value of ``text``, as ``_JSON_DECODER.decode`` gives it.

    A frame of this codec is one JSON value without surrounding whitespace, which the
    scanner reads without ``decode``'s two whitespace matches; anything else is left to
    ``decode``, for its leniency and its error messages.
    """
    try:
        wire, end = _JSON_SCAN(text, 0)
        if end == len(text):
            return wire
    except StopIteration:
        pass
    return _JSON_DECODER.decode(text)


def _mango_frame(content_text: str, meta_text: str) -> bytes:
    """The JSON of {TYPE_KEY: "MangoMessage", "content": ..., "meta": ...} from its parts."""
    return f'{{"{TYPE_KEY}":"MangoMessage","content":{content_text},"meta":{meta_text}}}'.encode()


class MessageCodec(Codec):
    """A mango codec for registered message types only; see :mod:`assume.codec`."""

    def __init__(self):
        super().__init__()
        self._registry = Registry(reserved=_ENVELOPES)
        self._last_content: Any = None
        self._last_content_text = ""
        # see encode_posted: metadata JSON per key, and the last content's frames per key
        self._meta_texts: dict[Any, str] = {}
        self._last_frames: dict[Any, bytes] = {}
        self.register_message_type(
            AgentAddress, field_types={"protocol_addr": str | tuple[str, int]}
        )

    def __str__(self) -> str:
        return f"{type(self).__name__}[{', '.join(self._registry.by_tag)}]"

    def register_message_type(self, cls: type, field_types: dict[str, Any] | None = None) -> None:
        """Let instances of the dataclass ``cls`` travel; ``field_types`` replaces the
        annotations of some fields (to narrow ``np.ndarray`` with an :class:`Array`, say).

        Dataclasses used in its fields are registered with it. Registering a class again is
        a no-op; a different class with a taken name is an error.
        """
        self._registry.register(cls, field_types)

    def add_serializer(self, otype, serialize, deserialize, type_id=None):
        raise TypeError(
            f"{type(self).__name__} takes dataclasses only: use register_message_type({otype!r})"
        )

    def encode(self, data: MangoMessage | ACLMessage) -> bytes:
        """A mango envelope as JSON bytes; :class:`SerializationError` names what cannot go."""
        if isinstance(data, MangoMessage):
            return self._encode_mango(data)
        try:
            if isinstance(data, ACLMessage):
                wire = self._encode_acl(data)
            else:
                raise SerializationError(
                    f"only MangoMessage or ACLMessage envelopes go on the wire, not {type(data)}"
                )
        except WireError as error:
            raise SerializationError(error.text()) from None
        try:
            return _JSON_ENCODER.encode(wire).encode()
        except (ValueError, RecursionError) as error:
            raise SerializationError(f"cannot encode {type(data).__name__}: {error}") from error

    def _encode_mango(self, message: MangoMessage) -> bytes:
        content = message.content
        content_text = self._content_text(content)
        meta_text = self._meta_text(content, message.meta if message.meta is not None else {})
        return _mango_frame(content_text, meta_text)

    def encode_posted(self, content: Any, meta: dict, key: Any) -> bytes:
        """``encode(MangoMessage(content, meta))`` for metadata that the hashable ``key``
        stands for (a container's own: its address, the sender's and the receiver's ids). The
        metadata's JSON is kept per key, and the frame per key as long as the content stays
        the same object: a message broadcast to several peers is encoded once."""
        if content is self._last_content and content is not None:
            frame = self._last_frames.get(key)
            if frame is not None:
                return frame
        content_text = self._content_text(content)
        meta_text = self._meta_texts.get(key)
        if meta_text is None:
            meta_text = self._meta_text(content, meta)
            if len(self._meta_texts) >= _KEPT_METADATA:
                self._meta_texts.clear()
            self._meta_texts[key] = meta_text
        frame = self._last_frames[key] = _mango_frame(content_text, meta_text)
        return frame

    def _content_text(self, content: Any) -> str:
        """The content's JSON, kept for the next call: a market sends one opening object to
        every operator."""
        if content is self._last_content and content is not None:
            return self._last_content_text
        try:
            content_text = _JSON_ENCODER.encode(self._encode_content(content))
        except WireError as error:
            raise SerializationError(error.text()) from None
        except (ValueError, RecursionError) as error:
            raise SerializationError(f"cannot encode {type(content).__name__}: {error}") from error
        self._last_content, self._last_content_text = content, content_text
        self._last_frames.clear()
        return content_text

    def _meta_text(self, content: Any, meta: dict) -> str:
        try:
            return _JSON_ENCODER.encode(self._encode_meta(meta))
        except WireError as error:
            raise SerializationError(error.text()) from None
        except (ValueError, RecursionError) as error:
            raise SerializationError(f"cannot encode {type(content).__name__}: {error}") from error

    def decode(self, data: bytes) -> MangoMessage | ACLMessage:
        """The envelope in ``data``; raises :class:`MalformedMessage` on any defect."""
        if not isinstance(data, _FRAME_TYPES):
            raise MalformedMessage(f"a frame must be bytes, not {type(data).__name__}")
        try:
            text = str(data, "utf-8")
        except UnicodeDecodeError as error:
            raise MalformedMessage(f"frame is not UTF-8: {error}") from None
        try:
            wire = _parse_json(text)
        except RecursionError:
            raise MalformedMessage("frame nests too deeply") from None
        except ValueError as error:
            raise MalformedMessage(f"frame is not JSON: {error}") from None
        try:
            tag = wire.get(TYPE_KEY) if type(wire) is dict else None
            if tag == "MangoMessage":
                return self._decode_mango(wire)
            if tag == "ACLMessage":
                return self._decode_acl(wire)
        except WireError as error:
            raise MalformedMessage(error.text()) from None
        except RecursionError:
            raise MalformedMessage("frame nests too deeply") from None
        raise MalformedMessage(
            f"frame is not a MangoMessage or ACLMessage envelope: got {json_type(wire)}"
        )

    def _encode_content(self, content: Any) -> Any:
        """A registered message (whose errors are named from the message) or a scalar."""
        converter = self._registry.messages.get(type(content))
        if converter is not None:
            try:
                return converter.encode(content)
            except WireError as error:
                error.within(converter.name)
                raise
        if type(content) in PLAIN_SCALARS:
            return content
        if isinstance(content, str | bool | int | float | np.generic):
            return _within("content", SCALAR.encode, content)
        _within("content", self._registry.converter_of, content)
        raise WireError(f"{type(content).__name__} is not a message type").within("content")

    def _decode_content(self, wire: Any, path: str) -> Any:
        if type(wire) is dict and TYPE_KEY in wire:
            try:
                converter = self._registry.converter_of_tag(wire[TYPE_KEY])
            except WireError as error:
                error.within(path)
                raise
            if isinstance(converter, MessageConverter):
                try:
                    return converter.decode(wire)
                except WireError as error:
                    error.within(converter.name)
                    raise
        if type(wire) in PLAIN_SCALARS:
            return wire
        return _within(path, SCALAR.decode, wire)

    def _encode_meta(self, meta: Any) -> dict:
        if not isinstance(meta, dict):
            raise WireError(f"expected a dict, got {type(meta)}").within("meta")
        wire = {}
        encode = self._registry.any.encode
        for key, item in meta.items():
            if not isinstance(key, str) or key == TYPE_KEY:
                raise WireError(f"key {key!r} cannot be sent").within("meta")
            try:
                converter = _META_FIELDS.get(key)
                if converter is not None:
                    wire[key] = converter.encode(item)
                else:
                    wire[key] = item if type(item) in PLAIN_SCALARS else encode(item)
            except WireError as error:
                error.within(f"meta.{key}")
                raise
        return wire

    def _decode_meta(self, wire: Any) -> dict:
        if not isinstance(wire, dict) or TYPE_KEY in wire:
            raise expected("an object of any value", wire).within("meta")
        meta = {}
        decode = self._registry.any.decode
        for key, item in wire.items():
            try:
                converter = _META_FIELDS.get(key)
                if converter is not None:
                    meta[key] = converter.decode(item)
                else:
                    meta[key] = item if type(item) in PLAIN_SCALARS else decode(item)
            except WireError as error:
                error.within(f"meta.{key}")
                raise
        return meta

    def _decode_mango(self, wire: dict) -> MangoMessage:
        if wire.keys() != _MANGO_KEYS:
            _within("MangoMessage", check_keys, wire, _MANGO_KEYS)
        content = self._decode_content(wire["content"], "content")
        return MangoMessage(content, self._decode_meta(wire["meta"]))

    def _encode_acl(self, message: ACLMessage) -> dict:
        unknown = vars(message).keys() - _ACL_ATTRIBUTES
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
        for name in _ACL_FIELDS:
            wire[name] = _within(name, SCALAR.encode, getattr(message, name))
        for name in _ACL_ADDRESS_FIELDS:
            wire[name] = _within(name, ADDRESS.encode, getattr(message, name))
        wire["performative"] = None if performative is None else performative.value
        wire["content"] = self._encode_content(message.content)
        return wire

    def _decode_acl(self, wire: dict) -> ACLMessage:
        _within("ACLMessage", check_keys, wire, _ACL_KEYS)
        message = ACLMessage()
        for name in _ACL_FIELDS:
            setattr(message, name, _within(f"ACLMessage.{name}", SCALAR.decode, wire[name]))
        for name in _ACL_ADDRESS_FIELDS:
            setattr(message, name, _within(f"ACLMessage.{name}", ADDRESS.decode, wire[name]))
        performative = wire["performative"]
        if performative is not None:
            try:
                performative = Performatives(performative) if type(performative) is int else None
            except ValueError:
                performative = None
            if performative is None:
                raise expected("a Performatives value", wire["performative"]).within(
                    "ACLMessage.performative"
                )
        message.performative = performative
        message.content = self._decode_content(wire["content"], "ACLMessage.content")
        return message


def _within(path: str, convert, *args: Any) -> Any:
    """``convert(*args)``, with ``path`` in front of the path of any error."""
    try:
        return convert(*args)
    except WireError as error:
        error.within(path)
        raise


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
