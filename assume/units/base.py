"""Units as columnar fleets: all units of one type held by one units operator.

A fleet keeps one row per unit: scalar parameters as (n,) arrays and time series as
(n, T) arrays over the simulation index. Strategies and dispatch work on rows, so the
cost of a market round does not grow with a Python loop over units.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from assume.errors import ConfigurationError
from assume.timeutil import TimeIndex


class Fleet:
    """Units of one type owned by one units operator.

    Subclasses declare ``parameters`` (name -> default; ``None`` = required) and
    ``series`` (name -> default value), and implement :meth:`execute` (turn the
    planned dispatch of a step into the executed one).
    """

    unit_type: ClassVar[str] = ""
    parameters: ClassVar[dict[str, float | None]] = {}
    text_parameters: ClassVar[dict[str, str]] = {"technology": "", "node": "node0"}
    series: ClassVar[dict[str, float]] = {}

    @property
    def needs_history(self) -> bool:
        """Whether bids depend on executed dispatch of earlier steps (so it must be executed
        as soon as it is final)."""
        return False

    def __init__(self, index: TimeIndex):
        self.index = index
        self.names: list[str] = []
        self.row_of: dict[str, int] = {}
        self._pending: list[tuple[dict, dict]] = []
        self.p: dict[str, np.ndarray] = {}
        self.text: dict[str, list[str]] = {}
        self.s: dict[str, np.ndarray] = {}
        self.extra: list[dict] = []
        self.frozen = False

    def __len__(self) -> int:
        return len(self.names)

    def add(self, name: str, params: dict, series: dict) -> None:
        """Add a unit; parameters are checked now, arrays are built by :meth:`freeze`."""
        if self.frozen:
            raise ConfigurationError(f"unit {name!r}: units cannot be added once the run started")
        if name in self.row_of:
            raise ConfigurationError(f"duplicate unit id {name!r}")
        checked = {}
        for key, default in self.parameters.items():
            value = params.get(key, default)
            if value is None and default is None and key not in params:
                raise ConfigurationError(
                    f"unit {name!r} ({self.unit_type}): missing required parameter {key!r}"
                )
            try:
                checked[key] = np.nan if value is None else float(value)
            except (TypeError, ValueError):
                raise ConfigurationError(
                    f"unit {name!r} ({self.unit_type}): parameter {key!r} must be a number, "
                    f"got {value!r}"
                ) from None
        for key, default in self.text_parameters.items():
            value = params.get(key)
            checked[key] = default if value is None else str(value)
        length = self.index.length
        arrays = {}
        for key, default in self.series.items():
            value = series.get(key, default)
            array = np.broadcast_to(np.asarray(value, dtype="float64"), (length,))
            if array.shape != (length,):
                raise ConfigurationError(
                    f"unit {name!r}: series {key!r} has {array.shape[0]} values, the index {length}"
                )
            arrays[key] = array
        self.row_of[name] = len(self.names)
        self.names.append(name)
        self._pending.append((checked, arrays))
        self.extra.append({k: v for k, v in params.items() if k not in checked})

    def freeze(self) -> None:
        """Stack the added units into column arrays and allocate the output arrays."""
        rows = len(self._pending)
        for key in self.parameters:
            self.p[key] = np.array([c[key] for c, _ in self._pending], dtype="float64")
        for key in self.text_parameters:
            self.text[key] = [c[key] for c, _ in self._pending]
        for key in self.series:
            self.s[key] = (
                np.stack([a[key] for _, a in self._pending])
                if rows
                else np.zeros((0, self.index.length))
            )
        shape = (rows, self.index.length)
        self.energy = np.zeros(shape)  # accepted energy-market volume, then executed power
        self.cashflow = np.zeros(shape)
        self.generation_costs = np.zeros(shape)
        self._pending = []
        self.frozen = True
        order = np.argsort(np.array(self.names, dtype=str), kind="stable")
        self._sorted_names = np.array(self.names, dtype=str)[order]
        self._sorted_rows = order
        self.prepare()

    def rows_of(self, unit_ids: np.ndarray) -> np.ndarray:
        """Row of each unit id in this fleet, -1 for ids it does not hold (vectorised)."""
        if not len(self.names):
            return np.full(len(unit_ids), -1)
        found = np.minimum(np.searchsorted(self._sorted_names, unit_ids), len(self.names) - 1)
        return np.where(self._sorted_names[found] == unit_ids, self._sorted_rows[found], -1)

    def prepare(self) -> None:
        """Derive series needed by strategies (e.g. marginal cost); called by :meth:`freeze`."""

    # -- market results -------------------------------------------------------------------
    def book_accepted(self, rows, first, last, volume, price) -> None:
        """Add accepted volumes and cashflows of orders covering index steps [first, last).

        The cashflow of an order is price x volume x number of steps it covers, booked in
        each of its steps, as ASSUME books it."""
        steps = last - first
        single = steps == 1
        if single.all():
            self.book_steps(rows, first, volume, price)
            return
        for row, a, b, vol, cash in zip(
            rows.tolist(),
            first.tolist(),
            last.tolist(),
            volume.tolist(),
            (price * volume * steps).tolist(),
            strict=True,
        ):
            if b > a:
                self.energy[row, a:b] += vol
                self.cashflow[row, a:b] += cash

    def book_steps(self, rows, step, volume, price) -> None:
        """Add accepted volumes and cashflows of orders covering the one index step ``step``
        (an array, or one step for all)."""
        if isinstance(step, int):  # the common case: in one column, np.add.at costs half
            np.add.at(self.energy[:, step], rows, volume)
            np.add.at(self.cashflow[:, step], rows, price * volume)
        else:
            np.add.at(self.energy, (rows, step), volume)
            np.add.at(self.cashflow, (rows, step), price * volume)

    def execute(self, first: int, stop: int) -> None:
        """Turn planned into executed power for steps [first, stop) in place."""

    def dispatch_columns(self, first: int, stop: int) -> dict[str, np.ndarray]:
        """The ``unit_dispatch`` columns for steps [first, stop), unit-major."""
        width = stop - first
        n = len(self.names)
        return {
            "time": np.tile(self.index.times[first:stop], n).astype("datetime64[s]"),
            "unit": np.repeat(np.array(self.names, dtype=str), width),
            "power": self.energy[:, first:stop].ravel(),
            "energy_cashflow": self.cashflow[:, first:stop].ravel(),
            "energy_generation_costs": self.generation_costs[:, first:stop].ravel(),
        }

    def meta_rows(self, operator: str) -> dict[str, list]:
        """One ``<unit_type>_meta`` row per unit: its parameters and operator."""
        columns: dict[str, list] = {"index": list(self.names)}
        for key in self.text_parameters:
            columns[key] = list(self.text[key])
        for key in self.parameters:
            columns[key] = self.p[key].tolist()
        columns["unit_type"] = [self.unit_type] * len(self)
        columns["unit_operator"] = [operator] * len(self)
        return columns
