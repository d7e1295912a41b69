"""Control messages between the manager's clock and the workers' clocks, and between MQTT
containers.

They are not simulation messages: they are not counted, and only clock agents (or, for
:class:`Resume`, the containers themselves) handle them.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Hello:
    """A worker announces itself (repeated until welcomed, so start order does not matter)."""

    worker: int
    operators: list[str]
    token: str = ""
    scenario: str = ""


@dataclass
class Welcome:
    """The manager accepted a worker; the token shows the worker that this is its manager."""

    worker: int
    token: str = ""


@dataclass
class Refused:
    """The manager refused a worker (wrong token, unknown index, other scenario)."""

    worker: int
    reason: str


@dataclass
class ClockSet:
    """Move the clock to ``time`` (a :class:`ClockQuery` follows)."""

    time: float
    round: int


@dataclass
class ClockQuery:
    """Settle and answer with a :class:`ClockStatus` (another round of the same step)."""

    round: int


@dataclass
class ClockStatus:
    """A worker's answer after it became idle: the simulation messages it sent to and handled
    from other containers, whether its own internal messages are all handled, its next
    scheduled event and the errors of its agents."""

    worker: int
    round: int
    sent_remote: int
    received_remote: int
    local_balanced: bool
    next_event: float | None = None
    failures: list[str] = field(default_factory=list)


@dataclass
class Heartbeat:
    """The manager is alive (sent while a step takes long, so workers can tell a slow
    manager from a lost one)."""

    time: float


@dataclass
class ClockStop:
    """The run is over (or aborted with ``reason``): shut down."""

    reason: str = ""


@dataclass
class Resume:
    """An MQTT container asks a peer to resend every message after the acknowledgement in
    this message's meta: it has just (re)connected to the broker, or it saw a gap. Handled by
    the receiving container (:mod:`assume.distributed.mqtt`), never by an agent."""


CONTROL_TYPES = (Hello, Welcome, Refused, ClockSet, ClockQuery, ClockStatus, Heartbeat, ClockStop)
