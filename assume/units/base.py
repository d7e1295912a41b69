"""Units as columnar fleets: all units of one type held by one units operator.

A fleet keeps one row per unit: scalar parameters as (n,) arrays and time series as
(n, T) arrays over the simulation index. Strategies and dispatch work on rows, so the
cost of a market round does not grow with a Python loop over units.

The (n, T) arrays are :class:`~assume.units.timeline.Timeline` s: only the steps in use take
memory. Input series (and what a fleet derives from them, such as marginal cost) are filled
in a week at a time from the scenario's own series, which units share where they can (one
fuel price series per fuel), by :meth:`Fleet.ready`; results (dispatch, cashflow, costs) take
pages as they are booked. The units operator releases the steps it has reported to the
output, except those that unit models and strategies still look back at, so memory does not
grow with the horizon.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from assume.errors import ConfigurationError
from assume.timeutil import TimeIndex
from assume.units.timeline import Timeline

# index steps of input series filled in at a time: a week of hours
FILL_SECONDS = 7 * 86400


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
    #: series only needed to derive others (see :meth:`derive`); they are not kept
    transient_series: ClassVar[tuple[str, ...]] = ()
    #: series a subclass derives from inputs (attributes of the same name)
    derived: ClassVar[tuple[str, ...]] = ()

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
        self._timelines: list[Timeline] = []
        # per input series: (source array, rows sharing it) for each distinct source
        self._sources: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
        self._constants: dict[float, np.ndarray] = {}
        self.filled_until = 0  # input and derived series hold steps before this one
        self.fill_steps = max(1, FILL_SECONDS // index.step)

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
            value = np.asarray(series.get(key, default), dtype="float64")
            if value.ndim == 0:  # one array per value: units that share it are filled at once
                array = self._constants.get(float(value))
                if array is None:
                    array = np.broadcast_to(value, (length,))
                    self._constants[float(value)] = array
            elif value.shape == (length,):
                array = value
            else:
                raise ConfigurationError(
                    f"unit {name!r}: series {key!r} has {value.shape[0]} values, the index {length}"
                )
            arrays[key] = array
        self.row_of[name] = len(self.names)
        self.names.append(name)
        self._pending.append((checked, arrays))
        self.extra.append({k: v for k, v in params.items() if k not in checked})

    def freeze(self) -> None:
        """Stack the added units' parameters into column arrays, allocate the series and
        fill in their first week."""
        for key in self.parameters:
            self.p[key] = np.array([c[key] for c, _ in self._pending], dtype="float64")
        for key in self.text_parameters:
            self.text[key] = [c[key] for c, _ in self._pending]
        for key in self.series:
            shared: dict[int, tuple[np.ndarray, list[int]]] = {}
            for row, (_, arrays) in enumerate(self._pending):
                source = arrays[key]
                shared.setdefault(id(source), (source, []))[1].append(row)
            self._sources[key] = [(source, np.array(r)) for source, r in shared.values()]
        for key in self.series:
            if key not in self.transient_series:
                self.s[key] = self.timeline()
        for key in self.derived:
            setattr(self, key, self.timeline())
        self.energy = self.timeline()  # accepted energy-market volume, then executed power
        self.cashflow = self.timeline()
        self.generation_costs = self.timeline()
        self._pending = []
        self._constants = {}
        self.frozen = True
        order = np.argsort(np.array(self.names, dtype=str), kind="stable")
        self._sorted_names = np.array(self.names, dtype=str)[order]
        self._sorted_rows = order
        self.prepare()
        self.ready(1)

    def unit_parameters(self, name: str) -> dict[str, float]:
        """The numeric parameters of unit ``name`` (checked; before or after :meth:`freeze`)."""
        row = self.row_of[name]
        if not self.frozen:
            return {key: self._pending[row][0][key] for key in self.parameters}
        return {key: float(self.p[key][row]) for key in self.parameters}

    def timeline(self, extra_steps: int = 0) -> np.ndarray:
        """A new (units, index length + ``extra_steps``) array of zeros that :meth:`release`
        trims."""
        timeline = Timeline(len(self.names), self.index.length + extra_steps)
        self._timelines.append(timeline)
        return timeline.array

    def window(self, first: int, stop: int) -> dict[str, np.ndarray]:
        """Every input and derived series for steps [first, stop), computed afresh (not
        stored): (units, stop - first) arrays by name."""
        width = stop - first
        values = {}
        for key, sources in self._sources.items():
            array = np.empty((len(self.names), width))
            for source, rows in sources:
                array[rows] = source[first:stop]
            values[key] = array
        values.update(self.derive(values))
        return values

    def ready(self, stop: int) -> None:
        """Make the input and derived series hold every step before ``stop`` (filling in a
        week or more at a time). Call before reading them."""
        if stop <= self.filled_until or not self.frozen:
            return
        first = self.filled_until
        stop = min(max(stop, first + self.fill_steps), self.index.length)
        values = self.window(first, stop)
        for key, array in self.s.items():
            array[:, first:stop] = values[key]
        for key in self.derived:
            getattr(self, key)[:, first:stop] = values[key]
        self.filled_until = stop

    def release(self, before: int) -> None:
        """Give back the memory of steps before ``before``: nothing may read them any more."""
        for timeline in self._timelines:
            timeline.release(before)

    @property
    def lookback(self) -> int:
        """How many steps before the current one unit models read (see :meth:`release`)."""
        return 1

    def rows_of(self, unit_ids: np.ndarray) -> np.ndarray:
        """Row of each unit id in this fleet, -1 for ids it does not hold (vectorised)."""
        if not len(self.names):
            return np.full(len(unit_ids), -1)
        found = np.minimum(np.searchsorted(self._sorted_names, unit_ids), len(self.names) - 1)
        return np.where(self._sorted_names[found] == unit_ids, self._sorted_rows[found], -1)

    def prepare(self) -> None:
        """Set up what the fleet derives from its parameters; called by :meth:`freeze`."""

    def derive(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The :attr:`derived` series over a window, from the input series over it."""
        return {}

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

    def book_steps(self, rows, step, volume, price, unique: bool = False) -> None:
        """Add accepted volumes and cashflows of orders covering the one index step ``step``
        (an array, or one step for all); ``unique``: no row comes twice for one step."""
        if isinstance(step, int) and unique:  # the common case: no np.add.at needed
            energy, cashflow = self.energy[:, step], self.cashflow[:, step]
            energy[rows] += volume  # (in one column: indexing both axes costs as much)
            cashflow[rows] += price * volume
        elif isinstance(step, int):  # in one column, np.add.at costs half
            np.add.at(self.energy[:, step], rows, volume)
            np.add.at(self.cashflow[:, step], rows, price * volume)
        else:
            np.add.at(self.energy, (rows, step), volume)
            np.add.at(self.cashflow, (rows, step), price * volume)

    def execute(self, first: int, stop: int) -> None:
        """Turn planned into executed power for steps [first, stop) in place."""

    def dispatch_columns(self, first: int, stop: int) -> dict[str, np.ndarray]:
        """The ``unit_dispatch`` columns for steps [first, stop), unit-major: copies, for the
        operator releases the steps later while the output role may still hold them."""
        width = stop - first
        n = len(self.names)
        return {
            "time": np.tile(
                self.index.start + self.index.step * np.arange(first, stop, dtype="int64"), n
            ).astype("datetime64[s]"),
            "unit": np.repeat(np.array(self.names, dtype=str), width),
            "power": self.energy[:, first:stop].flatten(),
            "energy_cashflow": self.cashflow[:, first:stop].flatten(),
            "energy_generation_costs": self.generation_costs[:, first:stop].flatten(),
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
