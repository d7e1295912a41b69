"""Messages and helpers shared by the codec and transport tests."""

from __future__ import annotations

import dataclasses
import json
import socket
from typing import Annotated

import numpy as np
from mango.messages.message import ACLMessage, MangoMessage

from assume.codec import Array, make_codec
from assume.markets.orderbook import Orderbook
from assume.messages import (
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
