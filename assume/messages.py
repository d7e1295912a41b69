"""The messages agents exchange. Every message is one of these types; the codec
(:mod:`assume.codec`) serialises exactly these and nothing else."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from assume.markets.orderbook import Orderbook


@dataclass
class Registration:
    """A units operator asks to take part in a market."""

    market_id: str
    operator: str


@dataclass
class RegistrationReply:
    """The market's answer to a :class:`Registration`."""

    market_id: str
    accepted: bool
    reason: str = ""


@dataclass
class Opening:
    """A market opened: bids for ``products`` ((n, 2) start/end array) are due by ``closing``."""

    market_id: str
    opening: int
    closing: int
    products: np.ndarray


@dataclass
class OrderSubmission:
    """A units operator's orders for one opening."""

    market_id: str
    opening: int
    orderbook: Orderbook


@dataclass
class ClearingFeedback:
    """One operator's orders with accepted volume and price, and the rejected ones with reasons.

    The orders keep the order in which the operator submitted them (less the rejected ones),
    so that an operator can book them by position (see assume.operators.Submission)."""

    market_id: str
    opening: int
    orderbook: Orderbook
    rejections: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class OutputRows:
    """Rows for one output table, as columns."""

    table: str
    columns: dict


@dataclass
class SimulationStart:
    """Sent by the world to the markets once every operator has registered."""

    time: int


@dataclass
class SimulationEnd:
    """Sent by the world when simulation time has reached the end: write out what is left."""

    time: int


MESSAGE_TYPES = (
    Registration,
    RegistrationReply,
    Opening,
    OrderSubmission,
    ClearingFeedback,
    OutputRows,
    SimulationStart,
    SimulationEnd,
)
