"""Simulation time: integer seconds since the epoch (UTC) and the fixed time index.

Naive datetimes are read as UTC. Durations use ASSUME's spellings: ``1h``,
``15min``/``15m``/``15T``, ``1d``, ``7d``, ``1w``, ``30s``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np

from assume.errors import ConfigurationError

_UNIT_SECONDS = {
    "s": 1,
    "sec": 1,
    "min": 60,
    "m": 60,
    "t": 60,
    "h": 3600,
    "d": 86400,
    "w": 7 * 86400,
}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)?\s*([a-zA-Z]+)\s*$")


def parse_duration(value, field: str = "duration") -> int:
    """Return a duration in whole seconds from ``"1h"``, ``"15min"``, a timedelta or seconds."""
    if isinstance(value, timedelta):
        return int(value.total_seconds())
    if isinstance(value, bool):
        raise ConfigurationError(f"{field}: expected a duration such as '1h', got {value!r}")
    seconds = None
    if isinstance(value, int | float):
        seconds = value
    elif isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            number, unit = match.groups()
            factor = _UNIT_SECONDS.get(unit.lower())
            if factor is not None:
                seconds = float(number or 1) * factor
    # a century is the longest duration that makes sense here
    if seconds is not None and math.isfinite(seconds) and abs(seconds) <= 100 * 365 * 86400:
        return int(round(seconds))
    raise ConfigurationError(
        f"{field}: expected a duration such as '1h', '15min', '1d' or '7d', got {value!r}"
    )


_EARLIEST = -2208988800  # 1900-01-01
_LATEST = 7258118400  # 2200-01-01
MAX_STEPS = 50_000_000  # more steps than a century of minutes is surely a mistake


def parse_datetime(value, field: str = "date") -> int:
    """Return epoch seconds (UTC) for a string, date, datetime or number; naive means UTC."""
    if isinstance(value, bool):
        raise ConfigurationError(
            f"{field}: expected a date such as '2019-01-01 00:00', got {value!r}"
        )
    if isinstance(value, int | float | np.integer):
        # epoch seconds; dates before 1900 or after 2200 are surely a mistake
        if not (np.isfinite(value) and _EARLIEST <= value <= _LATEST):
            raise ConfigurationError(
                f"{field}: expected a date such as '2019-01-01 00:00', got {value!r}"
            )
        return int(value)
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        text = value.strip().replace("T", " ")
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise ConfigurationError(
                f"{field}: expected a date such as '2019-01-01 00:00', got {value!r}"
            ) from None
    else:
        raise ConfigurationError(
            f"{field}: expected a date such as '2019-01-01 00:00', got {value!r}"
        )
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def to_datetime(seconds: int) -> datetime:
    """Naive UTC datetime for epoch seconds."""
    return datetime.fromtimestamp(int(seconds), tz=UTC).replace(tzinfo=None)


def format_datetime(seconds: int) -> str:
    """``YYYY-MM-DD HH:MM:SS``, the timestamp format of every output table."""
    return to_datetime(seconds).strftime("%Y-%m-%d %H:%M:%S")


def format_datetimes(seconds: np.ndarray) -> np.ndarray:
    """Vectorised :func:`format_datetime` for an int64 array of epoch seconds."""
    stamps = np.asarray(seconds, dtype="int64").astype("datetime64[s]")
    return np.char.replace(np.datetime_as_string(stamps, unit="s"), "T", " ")


@dataclass(frozen=True)
class TimeIndex:
    """A regular time axis: ``length`` steps of ``step`` seconds from ``start``."""

    start: int
    step: int
    length: int

    @classmethod
    def inclusive(cls, start: int, end: int, step: int) -> TimeIndex:
        """The index from start to end inclusive, as ASSUME builds its unit index."""
        if end < start:
            raise ConfigurationError(
                f"end_date {format_datetime(end)} lies before start_date {format_datetime(start)}"
            )
        if step <= 0:
            raise ConfigurationError(f"time_step must be positive, got {step} s")
        length = (end - start) // step + 1
        if length > MAX_STEPS:
            raise ConfigurationError(
                f"the horizon {format_datetime(start)} .. {format_datetime(end)} has {length} "
                f"time steps of {step} s; more than {MAX_STEPS} is surely a mistake"
            )
        return cls(start, step, length)

    @property
    def end(self) -> int:
        """The last timestamp of the index (inclusive)."""
        return self.start + (self.length - 1) * self.step

    @property
    def times(self) -> np.ndarray:
        return self.start + self.step * np.arange(self.length, dtype="int64")

    def position(self, moment: int) -> int:
        """Index position of a timestamp (arithmetic, never a search); may lie outside."""
        return (int(moment) - self.start) // self.step

    def window(self, start: int, end: int) -> slice:
        """Positions covering the half-open window [start, end), clipped to the index."""
        first = max(0, -(-(int(start) - self.start) // self.step))
        stop = min(self.length, -(-(int(end) - self.start) // self.step))
        return slice(first, max(first, stop))
