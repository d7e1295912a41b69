"""The wire codec, and containers that drop what it rejects: round trips of every message
type, malformed frames, fuzzing with hypothesis, and real TCP and MQTT containers."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import queue
import shutil
import socket
import struct
import subprocess
import threading
from typing import Annotated

import numpy as np
import paho.mqtt.client as paho
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from mango import Agent, AsyncioClock, activate, addr
from mango.messages.codecs import DecodeError, SerializationError
from mango.messages.message import ACLMessage, AgentAddress, MangoMessage, Performatives

from assume.codec import Array, MalformedMessage, MessageCodec, make_codec
from assume.distributed.transport import create_container
from assume.markets.orderbook import COLUMNS, Orderbook
from assume.messages import (
    MESSAGE_TYPES,
    ClearingFeedback,
    Opening,
    OrderSubmission,
    OutputRows,
    Registration,
    RegistrationReply,
    SimulationEnd,
    SimulationStart,
)

CODEC = make_codec()
TIMEOUT = 5
HOUR = 3600
T0 = 1546300800  # 2019-01-01 00:00 UTC


def book_with_nan_prices() -> Orderbook:
    return Orderbook.build(
        start=[T0, T0, T0 + HOUR],
        end=[T0 + HOUR, T0 + HOUR, T0 + 2 * HOUR],
        price=[np.nan, 42.5, -500.0],
        volume=[1000.0, -250.5, 0.0],
        unit_id=["coal_1", "city", "wind_ü"],
        accepted_price=[np.nan, np.inf, -np.inf],
        accepted_volume=[0.0, -250.5, 0.0],
    )


MESSAGES = [
    Registration("EOM", "operator_1"),
    RegistrationReply("EOM", True),
    RegistrationReply("EOM", False, "market EOM is closed"),
    Opening(
        "EOM", T0, T0 + HOUR, np.array([[T0 + h * HOUR, T0 + (h + 1) * HOUR] for h in range(24)])
    ),
    Opening("EOM", T0, T0 + HOUR, np.empty((0, 2), dtype="int64")),
    OrderSubmission("EOM", T0, book_with_nan_prices()),
    OrderSubmission("EOM", T0, Orderbook.empty()),
    ClearingFeedback("EOM", T0, book_with_nan_prices(), [("coal_1_1", "price is NaN")]),
    ClearingFeedback("EOM", T0, Orderbook.empty()),
    OutputRows(
        "market_orders",
        {
            "start_time": np.array([T0, T0 + HOUR], dtype="int64").astype("datetime64[s]"),
            "end_time": np.array(["2019-01-01T01:00", "NaT"], dtype="datetime64[s]"),
            "price": np.array([np.nan, 3000.0]),
            "volume": np.array([-1e-300, 1e300]),
            "bid_id": np.array(["a", "é€😀"]),
            "accepted": np.array([True, False]),
            "count": np.array([0, -(2**63)], dtype="int64"),
        },
    ),
    OutputRows("power_plant_meta", {"index": ["a", "b"], "max_power": [500.0, float("nan")]}),
    OutputRows(
        "unit_dispatch",
        [
            {"time": np.array([T0], dtype="datetime64[s]"), "power": np.array([1.5])},
            {"time": np.array([], dtype="datetime64[s]"), "soc": np.array([])},
        ],
    ),
    SimulationStart(T0),
    SimulationEnd(T0 + 24 * HOUR),
]


def assert_same(actual, expected, path="message"):
    """Equal values and types; arrays equal with the same dtype (str arrays: any <U width)."""
    assert type(actual) is type(expected), path
    if isinstance(expected, np.ndarray):
        if expected.dtype.kind == "U":
            assert actual.dtype.kind == "U", path
        else:
            assert actual.dtype == expected.dtype, path
        assert actual.shape == expected.shape, path
        np.testing.assert_array_equal(actual, expected, err_msg=path)
    elif dataclasses.is_dataclass(expected):
        for field in dataclasses.fields(expected):
            name = field.name
            assert_same(getattr(actual, name), getattr(expected, name), f"{path}.{name}")
    elif isinstance(expected, dict):
        assert list(actual) == list(expected), path
        for key in expected:
            assert_same(actual[key], expected[key], f"{path}.{key}")
    elif isinstance(expected, list | tuple):
        assert len(actual) == len(expected), path
        for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
            assert_same(a, e, f"{path}[{i}]")
    elif isinstance(expected, float) and np.isnan(expected):
        assert np.isnan(actual), path
    else:
        assert actual == expected, path


@dataclasses.dataclass
class Step:
    time: int
    shares: tuple[float, ...]


@dataclasses.dataclass
class StepReport:
    """A control message as the clock protocol might register one."""

    step: Step
    counts: dict[str, tuple[int, int]]
    idle: bool
    load: Annotated[np.ndarray, Array("float64", (None,))]
    previous: StepReport | None = None


@dataclasses.dataclass
class UnknownToReceivers:
    value: int


@dataclasses.dataclass
class Handle:
    connection: socket.socket


def round_trip(content, meta=None, codec=CODEC):
    return codec.decode(codec.encode(MangoMessage(content, meta or {})))


def frame(wire) -> bytes:
    return json.dumps(wire).encode()


def envelope(content) -> dict:
    return {"__type__": "MangoMessage", "content": content, "meta": {}}


def wire_of(message) -> dict:
    return json.loads(CODEC.encode(MangoMessage(message, {})))["content"]


# --- round trips ----------------------------------------------------------------------


def test_every_message_type_has_a_round_trip_case():
    assert {type(m) for m in MESSAGES} == set(MESSAGE_TYPES)


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: type(m).__name__)
def test_round_trip_keeps_values_and_dtypes(message):
    meta = {"sender_id": "market_EOM", "sender_addr": ("127.0.0.1", 9010), "receiver_id": "op"}
    decoded = round_trip(message, meta)
    assert isinstance(decoded, MangoMessage)
    assert_same(decoded.content, message)
    assert decoded.meta == meta


def test_orderbook_columns_keep_their_dtypes_and_nan_prices():
    decoded = round_trip(OrderSubmission("EOM", T0, book_with_nan_prices())).content.orderbook
    for name in COLUMNS:
        assert getattr(decoded, name).dtype.kind == getattr(Orderbook.empty(), name).dtype.kind
    assert np.isnan(decoded.price[0]) and decoded.accepted_price[1] == np.inf
    empty = round_trip(ClearingFeedback("EOM", T0, Orderbook.empty())).content.orderbook
    assert len(empty) == 0 and empty.unit_id.dtype.kind == "U" and empty.start.dtype == "int64"


def test_nan_and_infinity_travel_as_json_tokens():
    data = CODEC.encode(MangoMessage(OrderSubmission("EOM", T0, book_with_nan_prices()), {}))
    assert b"NaN" in data and b"-Infinity" in data
    assert data.isascii()


def test_scalars_addresses_and_acl_messages_travel_for_mango():
    # mango's distributed clock sends strings and numbers, and replies to sender_addr
    for content in ("next_event", "stop", 1546300800, 1.5, None, True):
        assert_same(round_trip(content).content, content)
    address = AgentAddress(("127.0.0.1", 9010), "clock_agent")
    decoded = round_trip(address, {"sender_addr": ["127.0.0.1", 9011]})
    assert decoded.content == address and hash(decoded.content) == hash(address)
    assert decoded.meta["sender_addr"] == ("127.0.0.1", 9011)
    assert round_trip("x", {"sender_addr": "worker_1"}).meta["sender_addr"] == "worker_1"
    acl = ACLMessage(
        sender_id="a",
        sender_addr=("127.0.0.1", 1),
        receiver_id="b",
        receiver_addr="topic",
        performative=Performatives.inform,
        content=Registration("EOM", "op"),
        conversation_id="c1",
    )
    decoded = CODEC.decode(CODEC.encode(acl))
    assert decoded.message_dict == acl.message_dict


def test_registered_types_are_checked_against_their_annotations():
    codec = make_codec()
    codec.register_message_type(StepReport)
    codec.register_message_type(StepReport)  # again: no-op
    report = StepReport(Step(3, (0.5, 2.0)), {"w1": (3, 2)}, True, np.array([np.nan]))
    report = StepReport(Step(4, ()), {}, False, np.array([]), previous=report)
    assert_same(round_trip(report, codec=codec).content, report)
    with pytest.raises(SerializationError, match="not a registered message type"):
        CODEC.encode(MangoMessage(report, {}))
    with pytest.raises(MalformedMessage, match="unknown __type__ 'StepReport'"):
        CODEC.decode(codec.encode(MangoMessage(report, {})))
    with pytest.raises(SerializationError, match=r"StepReport.step.time: expected an integer"):
        codec.encode(MangoMessage(StepReport(Step("3", ()), {}, True, np.array([])), {}))
    with pytest.raises(SerializationError, match="StepReport.load: expected an array of float64"):
        codec.encode(MangoMessage(StepReport(Step(3, ()), {}, True, np.array([1])), {}))


def test_registration_errors_name_the_type_or_field():
    codec = MessageCodec()

    @dataclasses.dataclass
    class Registration:  # same name as assume.messages.Registration
        market_id: str

    codec.register_message_type(Registration)
    with pytest.raises(ValueError, match="named Registration is already registered"):
        codec.register_message_type(MESSAGE_TYPES[0])
    with pytest.raises(TypeError, match="is not a dataclass"):
        codec.register_message_type(dict)

    with pytest.raises(TypeError, match="field connection: .* cannot go on the wire"):
        codec.register_message_type(Handle)
    with pytest.raises(TypeError, match="use register_message_type"):
        codec.add_serializer(Handle, vars, Handle)


@pytest.mark.parametrize(
    "content, error",
    [
        (OrderSubmission("EOM", T0, "book"), "OrderSubmission.orderbook: expected an Orderbook"),
        (Opening("EOM", T0, T0, np.zeros((1, 2), dtype="float32")), "dtype float32 cannot"),
        (Opening("EOM", T0, T0, np.zeros(2, dtype="int64")), r"shape \(n, 2\), got \(2,\)"),
        (Opening("EOM", 1.5, T0, np.zeros((1, 2), dtype="int64")), "Opening.opening: expected"),
        (OutputRows("t", {"c": {1, 2}}), "OutputRows.columns"),
        (object(), "object is not a registered message type"),
    ],
)
def test_what_cannot_be_sent_is_refused_at_the_sender(content, error):
    with pytest.raises(SerializationError, match=error):
        CODEC.encode(MangoMessage(content, {}))


def test_only_envelopes_go_on_the_wire():
    with pytest.raises(SerializationError, match="only MangoMessage or ACLMessage"):
        CODEC.encode(Registration("EOM", "op"))
    with pytest.raises(SerializationError, match="Orderbook is not a message type"):
        CODEC.encode(MangoMessage(Orderbook.empty(), {}))


# --- malformed frames -----------------------------------------------------------------


OPENING = wire_of(MESSAGES[3])
SUBMISSION = wire_of(MESSAGES[5])


def changed(wire: dict, **fields) -> dict:
    return {**wire, **fields}


MALFORMED = {
    "empty": (b"", "not JSON"),
    "garbage": (b"\x00\x01garbage", "not UTF-8|not JSON"),
    "invalid utf-8": (b'{"a": "\xff"}', "not UTF-8"),
    "truncated": (frame(envelope(OPENING))[:-7], "not JSON"),
    "trailing data": (frame(envelope(OPENING)) + b"{}", "not JSON"),
    "a list": (b"[1, 2]", "not a MangoMessage or ACLMessage envelope: got a list"),
    "bare message": (frame(OPENING), "envelope: got an object tagged 'Opening'"),
    "duplicate key": (b'{"__type__": "MangoMessage", "meta": {}, "meta": {}}', "repeats"),
    "deep nesting": (b"[" * 100_000, "nests too deeply|not JSON"),
    "meta not an object": (frame({**envelope(None), "meta": []}), "meta: expected an object"),
    "bad sender_addr": (
        frame({**envelope(None), "meta": {"sender_addr": ["h", "9010"]}}),
        "meta.sender_addr",
    ),
    "envelope extra key": (frame({**envelope(None), "x": 1}), "unknown field"),
    "unknown type": (frame(envelope({"__type__": "Pickle"})), "unknown __type__ 'Pickle'"),
    "type not a string": (frame(envelope({"__type__": ["Opening"]})), "unknown __type__"),
    "content a list": (frame(envelope([1])), "content: expected a string"),
    "missing field": (
        frame(envelope({k: v for k, v in OPENING.items() if k != "closing"})),
        r"Opening: missing field\(s\) closing",
    ),
    "extra field": (frame(envelope(changed(OPENING, x=1))), r"Opening: unknown field\(s\) 'x'"),
    "int as string": (frame(envelope(changed(OPENING, opening="0"))), "Opening.opening"),
    "bool as int": (frame(envelope(changed(OPENING, opening=True))), "Opening.opening"),
    "float as int": (frame(envelope(changed(OPENING, opening=1.0))), "Opening.opening"),
    "bool as string": (
        frame(
            envelope(
                {"__type__": "RegistrationReply", "market_id": "m", "accepted": 1, "reason": ""}
            )
        ),
        "RegistrationReply.accepted: expected a boolean",
    ),
    "products wrong shape": (
        frame(envelope(changed(OPENING, products={**OPENING["products"], "shape": [48]}))),
        r"Opening.products: expected an array of shape \(n, 2\)",
    ),
    "products wrong dtype": (
        frame(
            envelope(
                changed(
                    OPENING,
                    products={
                        "__type__": "ndarray",
                        "dtype": "float64",
                        "shape": [0, 2],
                        "data": [],
                    },
                )
            )
        ),
        "expected an array of int64, got float64",
    ),
    "shape and data disagree": (
        frame(envelope(changed(OPENING, products={**OPENING["products"], "shape": [25, 2]}))),
        "needs 50 items, data has 48",
    ),
    "unknown dtype": (
        frame(envelope(changed(OPENING, products={**OPENING["products"], "dtype": "object"}))),
        "'object' is not one of",
    ),
    "string in int array": (
        frame(envelope(changed(OPENING, products={**OPENING["products"], "data": ["0"] * 48}))),
        r"Opening.products.data\[0\]: expected int",
    ),
    "int out of range": (
        frame(envelope(changed(OPENING, products={**OPENING["products"], "data": [2**64] * 48}))),
        "Opening.products",
    ),
    "nan in int array": (
        frame(
            envelope(
                changed(OPENING, products={**OPENING["products"], "data": [float("nan")] * 48})
            )
        ),
        r"data\[0\]: expected int, got a number",
    ),
    "orderbook column missing": (
        frame(
            envelope(
                changed(
                    SUBMISSION,
                    orderbook={k: v for k, v in SUBMISSION["orderbook"].items() if k != "price"},
                )
            )
        ),
        r"OrderSubmission.orderbook: missing field\(s\) price",
    ),
    "orderbook columns of different lengths": (
        frame(envelope(changed(SUBMISSION, orderbook={**SUBMISSION["orderbook"], "price": [1.0]}))),
        "columns have different lengths",
    ),
    "orderbook float start": (
        frame(
            envelope(
                changed(SUBMISSION, orderbook={**SUBMISSION["orderbook"], "start": [1.5, 2.0, 3.0]})
            )
        ),
        r"orderbook.start\[0\]: expected int",
    ),
    "orderbook numeric unit id": (
        frame(
            envelope(
                changed(SUBMISSION, orderbook={**SUBMISSION["orderbook"], "unit_id": [1, 2, 3]})
            )
        ),
        r"orderbook.unit_id\[0\]: expected str",
    ),
    "orderbook price as string": (
        frame(
            envelope(
                changed(SUBMISSION, orderbook={**SUBMISSION["orderbook"], "price": ["nan"] * 3})
            )
        ),
        r"orderbook.price\[0\]: expected float or int",
    ),
    "rejection not a pair": (
        frame(envelope({**wire_of(MESSAGES[7]), "rejections": [["a", "b", "c"]]})),
        r"ClearingFeedback.rejections\[0\]: expected a list of 2 items",
    ),
    "output columns a string": (
        frame(envelope({"__type__": "OutputRows", "table": "t", "columns": "x"})),
        "OutputRows.columns",
    ),
    "bad performative": (
        frame({**json.loads(CODEC.encode(ACLMessage())), "performative": 99}),
        "ACLMessage.performative",
    ),
}


@pytest.mark.parametrize("data, error", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_frames_raise_malformed_message_naming_the_defect(data, error):
    with pytest.raises(MalformedMessage, match=error):
        CODEC.decode(data)


def test_malformed_message_is_a_mango_decode_error():
    assert issubclass(MalformedMessage, DecodeError)
    with pytest.raises(MalformedMessage, match="must be bytes"):
        CODEC.decode("{}")


# --- property-based -------------------------------------------------------------------

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

FIELD_NAMES = sorted(
    {f.name for t in MESSAGE_TYPES for f in dataclasses.fields(t)}
    | {"__type__", "content", "meta", "dtype", "shape", "data", *COLUMNS}
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(FIELD_NAMES) | st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=20,
)
tags = st.sampled_from(
    ["MangoMessage", "ACLMessage", "ndarray", "Orderbook", *(t.__name__ for t in MESSAGE_TYPES)]
)
tagged_objects = st.tuples(tags, st.dictionaries(st.sampled_from(FIELD_NAMES), json_values)).map(
    lambda pair: {**pair[1], "__type__": pair[0]}
)


def decodes_or_is_malformed(data: bytes) -> None:
    try:
        message = CODEC.decode(data)
    except MalformedMessage:
        return
    assert isinstance(message, MangoMessage | ACLMessage)


@FUZZ
@given(st.binary(max_size=200))
def test_arbitrary_bytes_only_raise_malformed_message(data):
    decodes_or_is_malformed(data)


@FUZZ
@given(json_values | tagged_objects | (json_values | tagged_objects).map(envelope))
def test_arbitrary_json_only_raises_malformed_message(value):
    decodes_or_is_malformed(json.dumps(value).encode())


def locations(wire, trail=()):
    """Every (container, key) in a JSON value, to replace or delete."""
    items = (
        wire.items()
        if isinstance(wire, dict)
        else enumerate(wire)
        if isinstance(wire, list)
        else ()
    )
    for key, item in items:
        yield (*trail, key)
        yield from locations(item, (*trail, key))


VALID_FRAMES = [
    json.loads(CODEC.encode(MangoMessage(m, {"sender_addr": ("h", 1)}))) for m in MESSAGES
]


@FUZZ
@given(st.data())
def test_valid_frames_with_one_part_replaced_only_raise_malformed_message(data):
    wire = json.loads(json.dumps(data.draw(st.sampled_from(VALID_FRAMES))))
    trail = data.draw(st.sampled_from(list(locations(wire))))
    parent = wire
    for key in trail[:-1]:
        parent = parent[key]
    if isinstance(parent, dict) and data.draw(st.booleans()):
        del parent[trail[-1]]
    else:
        parent[trail[-1]] = data.draw(json_values | tags)
    decodes_or_is_malformed(json.dumps(wire).encode())


@st.composite
def orderbooks(draw):
    length = draw(st.integers(0, 12))
    ints = arrays("int64", length)
    floats = arrays("float64", length, elements=st.floats(allow_nan=True, allow_infinity=True))
    texts = st.lists(st.text(max_size=6), min_size=length, max_size=length).map(
        lambda t: np.array(t, dtype=str)
    )
    return Orderbook(
        start=draw(ints),
        end=draw(ints),
        price=draw(floats),
        volume=draw(floats),
        unit_id=draw(texts),
        bid_id=draw(texts),
        node=draw(texts),
        accepted_price=draw(floats),
        accepted_volume=draw(floats),
    )


@settings(max_examples=200, deadline=None)
@given(orderbooks(), st.integers(-(2**63), 2**63 - 1))
def test_generated_orderbooks_round_trip(book, opening):
    message = ClearingFeedback("EOM", opening, book, [("b", "reason")])
    assert_same(round_trip(message).content, message)


# --- real containers ------------------------------------------------------------------


class Inbox(Agent):
    """Puts every message it receives into a queue."""

    def __init__(self):
        super().__init__()
        self.messages: asyncio.Queue = asyncio.Queue()

    def handle_message(self, content, meta):
        self.messages.put_nowait((content, meta))

    async def next(self):
        return await asyncio.wait_for(self.messages.get(), TIMEOUT)


class TransportLog(logging.Handler):
    """The transport's warnings, and a way to wait until a number of them were logged."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages: list[str] = []
        self.loop = asyncio.get_running_loop()
        self.changed = asyncio.Event()
        self.logger = logging.getLogger("assume.distributed.transport")

    def __enter__(self):
        self.logger.addHandler(self)
        return self

    def __exit__(self, *exc):
        self.logger.removeHandler(self)

    def emit(self, record):
        # MQTT containers log from paho's network thread
        self.messages.append(record.getMessage())
        self.loop.call_soon_threadsafe(self.changed.set)

    async def wait_for(self, count: int) -> None:
        async def reached():
            while len(self.messages) < count:
                self.changed.clear()
                if len(self.messages) < count:
                    await self.changed.wait()

        await asyncio.wait_for(reached(), TIMEOUT)


def tcp_frame(payload: bytes) -> bytes:
    return struct.pack("!L", len(payload)) + payload


def valid_frame(content, receiver_id: str, codec=CODEC) -> bytes:
    return codec.encode(MangoMessage(content, {"receiver_id": receiver_id, "sender_id": "raw"}))


def test_tcp_containers_exchange_messages_and_drop_garbage():
    feedback = MESSAGES[7]

    async def scenario():
        sender_codec = make_codec()
        sender_codec.register_message_type(UnknownToReceivers)
        a = create_container("tcp", addr=("127.0.0.1", 0), clock=AsyncioClock(), codec=sender_codec)
        b = create_container("tcp", addr=("127.0.0.1", 0), clock=AsyncioClock())
        sender = a.register(Agent(), "sender")
        inbox = b.register(Inbox(), "inbox")
        async with activate(a, b):
            target = addr(b.addr, "inbox")
            assert await sender.send_message(feedback, target)
            content, meta = await inbox.next()
            assert_same(content, feedback)
            assert meta["sender_addr"] == a.addr and meta["network_protocol"] == "tcp"

            with TransportLog() as log:
                # garbage on one connection, then a valid frame on the same connection
                _, writer = await asyncio.open_connection(*b.addr)
                port = writer.get_extra_info("sockname")[1]
                for data, _ in MALFORMED.values():
                    writer.write(tcp_frame(data))
                writer.write(tcp_frame(valid_frame(SimulationEnd(1), "inbox")))
                await writer.drain()
                assert_same((await inbox.next())[0], SimulationEnd(1))
                assert len(log.messages) == len(MALFORMED)
                assert all(f"('127.0.0.1', {port})" in message for message in log.messages)

                # a frame cut short, then the connection closes
                writer.write(tcp_frame(valid_frame(SimulationEnd(2), "inbox"))[:-5])
                writer.close()
                await log.wait_for(len(MALFORMED) + 1)
                assert "closed inside a frame" in log.messages[-1]

                # unframed bytes: the header announces ~1.2 GB that never come
                _, raw = await asyncio.open_connection(*b.addr)
                raw.write(b"GARBAGE!" * 10)
                await raw.drain()

                # a frame the receiver cannot decode, on the sender's pooled connection
                assert await sender.send_message(UnknownToReceivers(1), target)
                assert await sender.send_message(SimulationStart(3), target)
                assert_same((await inbox.next())[0], SimulationStart(3))
                assert "unknown __type__ 'UnknownToReceivers'" in log.messages[len(MALFORMED) + 1]
                raw.close()
                await log.wait_for(len(MALFORMED) + 3)
                assert "closed inside a frame: 80 bytes dropped" in log.messages[-1]
        assert inbox.messages.empty()

    asyncio.run(scenario())


def test_container_factory_refuses_incomplete_arguments():
    with pytest.raises(ValueError, match="addr"):
        create_container("tcp", clock=AsyncioClock())
    with pytest.raises(ValueError, match="broker= and client_id="):
        create_container("mqtt", clock=AsyncioClock(), broker=("127.0.0.1", 1883))
    with pytest.raises(ValueError, match="unknown container kind 'udp'"):
        create_container("udp", clock=AsyncioClock())


MOSQUITTO = shutil.which("mosquitto") or shutil.which("/usr/sbin/mosquitto")


def forward_lines(stream, lines: queue.Queue) -> None:
    for line in stream:
        lines.put(line)


def start_mosquitto(config) -> subprocess.Popen | None:
    """mosquitto with ``config``, once it says it is running; None if it did not start."""
    process = subprocess.Popen(
        [MOSQUITTO, "-c", str(config)], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
    )
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=forward_lines, args=(process.stderr, lines), daemon=True).start()
    try:
        line = ""
        while "running" not in line and "Error" not in line:
            line = lines.get(timeout=TIMEOUT)
    except queue.Empty:
        line = ""
    if "running" in line:
        return process
    process.kill()
    process.wait()
    return None


@pytest.fixture(scope="module")
def mosquitto(tmp_path_factory):
    """A mosquitto of our own on a free port of 127.0.0.1; yields (host, port)."""
    if MOSQUITTO is None:
        pytest.skip("the mosquitto binary is not installed (apt-get install mosquitto)")
    config = tmp_path_factory.mktemp("mosquitto") / "mosquitto.conf"
    for _ in range(3):  # the probed port may be taken before mosquitto binds it
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        config.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\n")
        process = start_mosquitto(config)
        if process is not None:
            break
    else:
        pytest.fail("mosquitto did not start on 127.0.0.1")
    yield ("127.0.0.1", port)
    process.terminate()
    process.wait(TIMEOUT)


def test_mqtt_containers_exchange_messages_and_drop_garbage(mosquitto):
    feedback = MESSAGES[7]

    def publish_raw(payloads: list[bytes], topic: str) -> None:
        client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="raw_publisher")
        client.connect(*mosquitto)
        client.loop_start()
        try:
            for payload in payloads:
                client.publish(topic, payload, qos=1).wait_for_publish(TIMEOUT)
        finally:
            client.disconnect()
            client.loop_stop()

    async def scenario():
        a = create_container("mqtt", broker=mosquitto, client_id="a", clock=AsyncioClock())
        b = create_container("mqtt", broker=mosquitto, client_id="b", clock=AsyncioClock())
        sender = a.register(Agent(), "sender")
        inbox = b.register(Inbox(), "inbox")
        async with activate(a, b):
            target = addr("b", "inbox")
            await sender.send_message(feedback, target, qos=1)
            content, meta = await inbox.next()
            assert_same(content, feedback)
            assert meta["sender_addr"] == "a" and meta["topic"] == "b"

            with TransportLog() as log:
                # one publisher, one topic, one QoS: the broker keeps the order
                garbage = [data for data, _ in MALFORMED.values()]
                valid = valid_frame(SimulationEnd(1), "inbox")
                await asyncio.to_thread(publish_raw, [*garbage, valid], "b")
                assert_same((await inbox.next())[0], SimulationEnd(1))
                assert len(log.messages) == len(MALFORMED)
                assert all("on topic b" in message for message in log.messages)
            await sender.send_message(SimulationStart(2), target, qos=1)
            assert_same((await inbox.next())[0], SimulationStart(2))
        assert inbox.messages.empty()

    asyncio.run(scenario())
