"""Optimising strategies: at each opening a unit plans its most profitable schedule over a
foresight horizon against the price forecast, by dynamic programming, and bids that plan.

Bid prices come from the value function of the plan: each planned order is priced at the
market price at which it stops paying compared with not trading in that step and going on
optimally from the state that leaves. An order to sell is offered at that lowest worthwhile
price, an order to buy is bid at that highest one, so whenever the forecast is right every
planned order clears. Orders of one opening assume that the earlier ones clear; the next
opening plans again from what really cleared.

The value function depends on the forecast, not on what cleared: once a unit has bid, it
starts the next opening's as a job for the process's idle time (assume.lookahead), so that a
distributed worker computes it while it waits for the markets instead of after. Storages are
here, power plants in assume.strategies.optimized_plant.
"""

from __future__ import annotations

import itertools
from collections.abc import Generator

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from assume.errors import ConfigurationError
from assume.lookahead import Job, ahead, complete
from assume.markets.orderbook import Orderbook
from assume.strategies.base import BiddingStrategy
from assume.timeutil import parse_duration

# MW: smaller powers count as idle, smaller order volumes are not placed
POWER_TOLERANCE = 1e-6
# the price of output that must run (minimum up time) on a market without a price floor
# (ASSUME's default minimum_bid_price)
MUST_RUN_PRICE = -500.0

STORAGE_PARAMETERS = (
    "max_power_charge",
    "max_power_discharge",
    "min_power_charge",
    "min_power_discharge",
    "efficiency_charge",
    "efficiency_discharge",
    "min_soc",
    "max_soc",
    "capacity",
    "additional_cost_charge",
    "additional_cost_discharge",
)


def storage_terms(price: np.ndarray, availability: np.ndarray, hours: float, units: dict) -> dict:
    """Per unit and step (n, H): what a MWh more or less in store earns now (EUR/MWh, net of
    efficiencies and additional costs) and how much energy (MWh) may go in or out."""
    efficiency_charge = units["efficiency_charge"][:, None]
    efficiency_discharge = units["efficiency_discharge"][:, None]
    return {
        # storing e MWh buys e / efficiency_charge MWh; releasing e MWh sells e x efficiency
        "charge_value": -(price + units["additional_cost_charge"][:, None]) / efficiency_charge,
        "discharge_value": -(price - units["additional_cost_discharge"][:, None])
        * efficiency_discharge,
        "most_in": -units["max_power_charge"][:, None] * availability * efficiency_charge * hours,
        "most_out": units["max_power_discharge"][:, None]
        * availability
        / efficiency_discharge
        * hours,
        "least_in": np.broadcast_to(
            -units["min_power_charge"][:, None] * efficiency_charge * hours, availability.shape
        ),
        "least_out": np.broadcast_to(
            units["min_power_discharge"][:, None] / efficiency_discharge * hours,
            availability.shape,
        ),
    }


def storage_reward(energy_in, terms: dict, hours: float):
    """Revenue minus additional cost of storing ``energy_in`` MWh (< 0: releasing) in one
    step; -inf beyond the power limits or below a minimum power. ``terms`` broadcast."""
    tolerance = POWER_TOLERANCE * hours
    charging = energy_in > 0
    reward = energy_in * np.where(charging, terms["charge_value"], terms["discharge_value"])
    feasible = (energy_in <= terms["most_in"] + tolerance) & (
        energy_in >= -terms["most_out"] - tolerance
    )
    if terms["least_in"].any() or terms["least_out"].any():  # most storages have no minimum
        feasible &= (
            (np.abs(energy_in) <= tolerance)
            | (energy_in >= terms["least_in"] - tolerance)
            | (energy_in <= -terms["least_out"] + tolerance)
        )
    return np.where(feasible, reward, -np.inf)


def storage_power(energy_in, hours: float, units: dict):
    """Grid power (> 0 discharging) that stores ``energy_in`` MWh (n, ...) in ``hours``."""
    shape = (-1,) + (1,) * (np.ndim(energy_in) - 1)
    efficiency_charge = units["efficiency_charge"].reshape(shape)
    efficiency_discharge = units["efficiency_discharge"].reshape(shape)
    return np.where(
        energy_in > 0,
        -energy_in / (efficiency_charge * hours),
        -energy_in * efficiency_discharge / hours,
    )


def storage_cost(power, hours: float, units: dict):
    """Additional cost (EUR) of charging or discharging at ``power`` for ``hours``."""
    return hours * np.where(
        power > 0,
        power * units["additional_cost_discharge"],
        -power * units["additional_cost_charge"],
    )


# what one more batch of units costs storage_values, in candidate values (numpy calls per
# step, measured against the cost of one value on the machines of benchmarks/RESULTS.md)
BATCH_OVERHEAD = 4000
# places reach_batches considers for cutting a group into batches
MAX_CUTS = 48
# microseconds per candidate move of storage_values on those machines (see
# StorageEnergyOptimizedStrategy.work)
MOVE_WORK = 0.0025
# values computed or copied in one piece of a value function job (assume.lookahead): under a
# millisecond of work here, so that a worker computing ahead answers its messages promptly
PIECE_VALUES = 200_000


def storage_values(
    price: np.ndarray, availability: np.ndarray, hours: float, units: dict, soc_steps: int
) -> tuple[np.ndarray, np.ndarray]:
    """The value function of storages over a horizon of H steps, by backward induction: see
    :func:`storage_value_steps`, of which this is the whole computation at once."""
    return complete(storage_value_steps(price, availability, hours, units, soc_steps))


def storage_value_steps(
    price: np.ndarray, availability: np.ndarray, hours: float, units: dict, soc_steps: int
) -> Generator[None, None, tuple[np.ndarray, np.ndarray]]:
    """The value function of storages over a horizon of H steps, by backward induction, as a
    generator that yields after each step of the horizon and between other pieces of about
    PIECE_VALUES values (a job for assume.lookahead).

    ``price`` (H,) is the price forecast, ``availability`` (n, H) scales the power limits,
    ``units`` maps STORAGE_PARAMETERS to (n,) arrays. Returns the ``soc_steps`` levels of
    state of charge from min_soc to max_soc (n, K) and the best revenue (EUR) from each
    level at the start of each step (H + 1, n, K); stored energy is worth nothing at the end.

    Each step a unit moves by at most as many levels as its power allows; units are solved
    in batches of similar reach (see :func:`reach_batches`), so that storages that fill in
    eight hours do not pay for the moves of one that fills in two.
    """
    n, length = availability.shape
    span = units["max_soc"] - units["min_soc"]
    levels = units["min_soc"][:, None] + span[:, None] * (np.arange(soc_steps) / (soc_steps - 1))
    level_energy = span * units["capacity"] / (soc_steps - 1)
    terms = storage_terms(price, availability, hours, units)
    tolerance = POWER_TOLERANCE * hours
    # the widest move of each unit, in levels, that full power allows in one step (with the
    # tolerance storage_reward grants, so that every feasible move is in reach)
    with np.errstate(divide="ignore", invalid="ignore"):
        positive = level_energy[:, None] > 0
        reach_in = np.where(positive, (terms["most_in"] + tolerance) / level_energy[:, None], 0)
        reach_out = np.where(positive, (terms["most_out"] + tolerance) / level_energy[:, None], 0)
    reach_in = np.minimum(np.ceil(reach_in.max(axis=1, initial=0.0)), soc_steps - 1).astype(int)
    reach_out = np.minimum(np.ceil(reach_out.max(axis=1, initial=0.0)), soc_steps - 1).astype(int)
    yield
    batches = reach_batches(reach_in, reach_out, soc_steps)
    yield
    values = np.zeros((length + 1, n, soc_steps))
    for rows in batches:
        if len(rows) == n:
            yield from _backward(
                values, terms, level_energy, hours, reach_in.max(), reach_out.max()
            )
        else:
            part = np.zeros((length + 1, len(rows), soc_steps))
            yield from _backward(
                part,
                {key: term[rows] for key, term in terms.items()},
                level_energy[rows],
                hours,
                reach_in[rows].max(),
                reach_out[rows].max(),
            )
            # in pieces: for a large group the copy alone takes milliseconds, most of them
            # the first touch of values' memory, whose every step the scattered rows reach
            chunk = max(1, PIECE_VALUES // values[0].size)
            for low in range(0, length + 1, chunk):
                values[low : low + chunk, rows] = part[low : low + chunk]
                yield
    return levels, values


def reach_batches(reach_in: np.ndarray, reach_out: np.ndarray, soc_steps: int) -> list:
    """Rows of units to solve together: a batch costs (its widest moves) x (units) x levels
    per step, plus BATCH_OVERHEAD. Units sorted by reach, cut where that costs least: exactly,
    over the ways to cut the sorted list between units of different reach (at most
    MAX_CUTS places, evenly spread, so that a large group costs little to plan)."""
    n = len(reach_in)
    if not n:
        return []
    order = np.lexsort((np.arange(n), reach_in + reach_out))
    ins, outs = reach_in[order], reach_out[order]
    cuts = np.flatnonzero(np.diff(ins + outs)) + 1
    if len(cuts) > MAX_CUTS:
        picked = cuts[np.linspace(0, len(cuts) - 1, MAX_CUTS).round().astype(int)]
        # ascending, so each place once; not np.unique, whose first call imports numpy.ma
        # (10 ms in every worker)
        cuts = picked[np.diff(picked, prepend=-1) > 0]
    points = [0, *cuts.tolist(), n]
    # the widest moves within each stretch between two places to cut
    stretch_in = [int(ins[a:b].max()) for a, b in itertools.pairwise(points)]
    stretch_out = [int(outs[a:b].max()) for a, b in itertools.pairwise(points)]
    # best[j]: least cost of the units before points[j]; start[j]: where its last batch starts
    best, start = [0] + [None] * (len(points) - 1), [0] * len(points)
    for j in range(1, len(points)):
        widest_in = widest_out = 0
        for i in range(j - 1, -1, -1):  # the last batch: the stretches i .. j-1
            widest_in, widest_out = max(widest_in, stretch_in[i]), max(widest_out, stretch_out[i])
            size = points[j] - points[i]
            cost = best[i] + (widest_in + widest_out + 1) * size * soc_steps + BATCH_OVERHEAD
            if best[j] is None or cost < best[j]:
                best[j], start[j] = cost, i
    batches, j = [], len(points) - 1
    while j:
        batches.append(np.sort(order[points[start[j]] : points[j]]))
        j = start[j]
    return batches[::-1]


def _backward(values, terms: dict, level_energy, hours: float, reach_in: int, reach_out: int):
    """Fill ``values`` (H + 1, n, K) by backward induction for units that move at most
    ``reach_in`` levels up and ``reach_out`` down in a step; yields after each step."""
    soc_steps = values.shape[2]
    offsets = np.arange(-reach_out, reach_in + 1)
    width = len(offsets)
    n = values.shape[1]
    moves = offsets[None, :, None] * level_energy[None, None, :]
    # window[w, u, k] is the next value at level k + offsets[w] (-inf beyond the ends); moves
    # first, so that the max over them runs over contiguous (n, K) planes
    padded = np.full((n, soc_steps + width - 1), -np.inf)
    window = sliding_window_view(padded, width, axis=1).transpose(2, 0, 1)
    candidates = np.empty((width, n, soc_steps))
    # pieces of about PIECE_VALUES values: the rewards of a block of steps at a time, and a
    # step for a block of units at a time (steps and units are independent)
    block = max(1, PIECE_VALUES // (width * n))
    units = max(1, PIECE_VALUES // (width * soc_steps))
    low = values.shape[0] - 1
    for t in range(values.shape[0] - 2, -1, -1):
        if t < low:
            low = max(0, t + 1 - block)
            # reward[s, w, u, 0]: unit u moving by offsets[w] levels in step low + s
            reward = storage_reward(
                moves, {key: term.T[low : t + 1, None, :] for key, term in terms.items()}, hours
            )[..., None]
            yield
        padded[:, reach_out : reach_out + soc_steps] = values[t + 1]
        if units >= n:
            np.add(window, reward[t - low], out=candidates)
            candidates.max(axis=0, out=values[t])
            yield
            continue
        for a in range(0, n, units):
            b = a + units
            np.add(window[:, a:b], reward[t - low, :, a:b], out=candidates[:, a:b])
            candidates[:, a:b].max(axis=0, out=values[t, a:b])
            yield


def _interpolate(values: np.ndarray, position: np.ndarray) -> np.ndarray:
    """Value functions (..., n, K) at fractional level positions (..., n), linearly."""
    last = values.shape[-1] - 1
    lower = np.minimum(position.astype(np.int64), last - 1)
    fraction = (position - lower).ravel()
    # flat positions: one row of K values per (..., unit)
    at = np.arange(lower.size) * (last + 1) + lower.ravel()
    flat = values.ravel()
    return (flat[at] * (1 - fraction) + flat[at + 1] * fraction).reshape(lower.shape)


def storage_orders(
    soc: np.ndarray,
    price: np.ndarray,
    availability: np.ndarray,
    hours: float,
    units: dict,
    levels: np.ndarray,
    values: np.ndarray,
    committed: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Orders (volume, price; each (n, S)) that follow the value function from the exact
    states of charge ``soc`` over the first S steps of the horizon, on top of the power
    ``committed`` (n, S) already sold.

    Each step the storage may stay idle or move to any level in reach. The order is the
    planned power p minus the committed one c, priced where it stops beating c:
    (cost(p) - cost(c) + V(after c) - V(after p)) / ((p - c) x hours).
    """
    n, steps = committed.shape
    last = levels.shape[1] - 1
    rows = np.arange(n)
    step = levels[:, 1] - levels[:, 0]
    level_energy = step * units["capacity"]
    per_level = np.where(step > 0, 1.0 / np.where(step > 0, step, 1.0), 0.0)
    grid = np.arange(last + 1)[None, :]
    terms = storage_terms(price[:steps], availability[:, :steps], hours, units)
    # the state of charge in levels (fractional between them) along the plan
    position = np.clip((soc - levels[:, 0]) * per_level, 0, last)
    path = np.empty((n, steps + 1))
    path[:, 0] = position
    for t in range(steps):
        later = values[t + 1]
        energy_in = (grid - position[:, None]) * level_energy[:, None]
        step_terms = {key: term[:, t, None] for key, term in terms.items()}
        moves = storage_reward(energy_in, step_terms, hours) + later
        best = np.argmax(moves, axis=1)
        # staying idle (maybe between two levels) wins ties
        move = moves[rows, best] > _interpolate(later, position)
        position = np.where(move, best, position)
        path[:, t + 1] = position
    planned = storage_power(np.diff(path, axis=1) * level_energy[:, None], hours, units)

    held_in = np.where(
        committed > 0,
        -committed * hours / units["efficiency_discharge"][:, None],
        -committed * hours * units["efficiency_charge"][:, None],
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        held_levels = np.where(level_energy[:, None] > 0, held_in / level_energy[:, None], 0.0)
    held = np.clip(path[:, :-1] + held_levels, 0, last)
    later = values[1 : steps + 1]  # (S, n, K)
    cost = {
        key: units[key][:, None] for key in ("additional_cost_charge", "additional_cost_discharge")
    }
    worth = (
        storage_cost(planned, hours, cost)
        - storage_cost(committed, hours, cost)
        + _interpolate(later, held.T).T
        - _interpolate(later, path[:, 1:].T).T
    )
    change = planned - committed
    trade = np.abs(change) > POWER_TOLERANCE
    volume = np.where(trade, change, 0.0)
    limit = np.where(trade, worth / np.where(trade, change * hours, 1.0), 0.0)
    return volume, limit


class OptimizedStrategy(BiddingStrategy):
    """Shared by the optimising strategies: the price forecast, the foresight, one-step
    products, and the value function of the next opening planned ahead."""

    def __init__(self, *args, **params):
        super().__init__(*args, **params)
        if self.forecasts is None:
            raise ConfigurationError(f"strategy {self.name!r} needs a price forecast")
        step = self.fleet.index.step
        foresight = parse_duration(params.get("optimized_foresight", "24h"), "optimized_foresight")
        if foresight <= 0:
            raise ConfigurationError(
                f"strategy {self.name!r}: optimized_foresight must be positive, got {foresight} s"
            )
        self.foresight_steps = -(-foresight // step)
        for product in self.market.products:
            if product.duration != step:
                raise ConfigurationError(
                    f"strategy {self.name!r} on market {self.market.market_id}: products must "
                    f"last one time step ({step} s), got {product.duration} s"
                )
        self.hours = step / 3600.0
        self._ahead: tuple[tuple[int, int], Job] | None = None

    def value_steps(self, first: int, stop: int) -> Generator:
        """The dynamic programme's value function over the steps [first, stop), as a job
        (a generator, see assume.lookahead); it depends on the forecast, not on the market."""
        raise NotImplementedError

    def bid(self, products: np.ndarray, horizon: tuple, values) -> Orderbook:
        """The orders for ``products``, given their :meth:`horizon` and the value function
        over it."""
        raise NotImplementedError

    def calculate_bids(self, products: np.ndarray) -> Orderbook:
        horizon = self.horizon(products)
        if horizon is None or not len(self.rows):
            return Orderbook.empty()
        _, first, _, stop = horizon
        book = self.bid(products, horizon, self.value_function(first, stop))
        self.plan_ahead(products)
        return book

    def value_function(self, first: int, stop: int):
        """The value function over [first, stop): what :meth:`plan_ahead` started for this
        window if it is the one asked for, else computed now."""
        planned, self._ahead = self._ahead, None
        if planned is not None:
            window, job = planned
            if window == (first, stop):
                return job.result()
            job.cancel()
        return complete(self.value_steps(first, stop))

    def plan_ahead(self, products: np.ndarray) -> None:
        """Start the value function of the market's next opening (if it holds one) for the
        process's idle time (assume.lookahead): a worker waiting for the clearing computes it
        then instead of at that opening. Until that opening, it keeps the memory it fills."""
        # the index's last step is the end date unless that is off the time grid, when it is
        # earlier: a plan may then be skipped, never made for an opening that does not come
        upcoming = self.market.next_products(products, self.fleet.index.end)
        horizon = None if upcoming is None else self.horizon(upcoming)
        if horizon is not None:
            _, first, _, stop = horizon
            self._ahead = ((first, stop), ahead(self.value_steps(first, stop)))

    def horizon(self, products: np.ndarray) -> tuple[np.ndarray, int, int, int] | None:
        """Index steps of the products, the first and last of them within the index and the
        end of the horizon (max(foresight, the products' span), clipped to the index); None
        if no product lies within the index."""
        steps = self.steps(products)
        inside = steps[(steps >= 0) & (steps < self.fleet.index.length)]
        if not len(inside):
            return None
        first, last = int(inside.min()), int(inside.max())
        stop = min(max(first + self.foresight_steps, last + 1), self.fleet.index.length)
        self.fleet.ready(stop)  # the unit's series over the whole horizon
        return steps, first, last, stop

    def price_limits(self, price: np.ndarray) -> np.ndarray:
        """Prices clipped to the market's bid limits; -inf (must run) becomes the lowest."""
        low, high = self.market.minimum_bid_price, self.market.maximum_bid_price
        price = np.clip(price, -np.inf if low is None else low, np.inf if high is None else high)
        return np.where(np.isneginf(price), MUST_RUN_PRICE, price)

    def per_product(self, steps, first: int, volume, price, sides: int = 1) -> list:
        """(price, volume) per product from (sides x n, S) arrays, side-major, whose columns
        are the steps from ``first`` on."""
        nothing = np.zeros(sides * len(self.rows))
        per_product = []
        for step in steps.tolist():
            column = step - first
            if 0 <= column < volume.shape[1]:
                per_product.append((price[:, column], volume[:, column]))
            else:
                per_product.append((nothing, nothing))
        return per_product


class StorageEnergyOptimizedStrategy(OptimizedStrategy):
    """Storages bid the schedule that maximises revenue minus additional costs against the
    price forecast over ``optimized_foresight`` (default 24h), found by dynamic programming
    over ``soc_steps`` (default 101) levels of state of charge. Ramps are not modelled."""

    unit_types = ("storage",)

    def __init__(self, *args, **params):
        super().__init__(*args, **params)
        soc_steps = params.get("soc_steps", 101)
        if isinstance(soc_steps, bool) or not isinstance(soc_steps, int) or soc_steps < 2:
            raise ConfigurationError(
                f"strategy {self.name!r}: soc_steps must be an integer >= 2, got {soc_steps!r}"
            )
        self.soc_steps = soc_steps

    @classmethod
    def work(cls, unit: dict, market, step: int, params: dict) -> float:
        """The dynamic programme's candidate moves per opening (foresight steps x levels x
        the moves in the unit's reach, see storage_values) at about MOVE_WORK each."""
        try:
            foresight = parse_duration(params.get("optimized_foresight", "24h"), "")
            soc_steps = int(params.get("soc_steps", 101))
            level = (unit["max_soc"] - unit["min_soc"]) * unit["capacity"] / (soc_steps - 1)
            hours = step / 3600.0
            reach = min(
                abs(unit["max_power_charge"]) * unit["efficiency_charge"] * hours / level
                + abs(unit["max_power_discharge"]) / unit["efficiency_discharge"] * hours / level,
                2 * (soc_steps - 1),
            )
        except (ConfigurationError, TypeError, ValueError, ZeroDivisionError, KeyError):
            return super().work(unit, market, step, params)
        if not np.isfinite(reach):
            reach = 2 * (soc_steps - 1)
        moves = -(-foresight // step) * soc_steps * (reach + 3)
        return MOVE_WORK * moves + super().work(unit, market, step, params)

    def bid(self, products: np.ndarray, horizon: tuple, values) -> Orderbook:
        fleet, rows = self.fleet, self.rows
        steps, first, last, stop = horizon
        units, price, availability = self._inputs(first, stop)
        levels, values = values
        volume, limit = storage_orders(
            fleet.planned_soc(first)[rows],
            price,
            availability,
            self.hours,
            units,
            levels,
            values,
            fleet.energy[rows, first : last + 1],
        )
        per_product = self.per_product(steps, first, volume, self.price_limits(limit))
        return self.orders(products, per_product)

    def _inputs(self, first: int, stop: int) -> tuple[dict, np.ndarray, np.ndarray]:
        """The units' parameters, the price forecast and their availability over [first, stop)."""
        fleet, rows = self.fleet, self.rows
        units = {key: fleet.p[key][rows] for key in STORAGE_PARAMETERS}
        price = self.forecasts.price(self.market.market_id)[first:stop]
        return units, price, fleet.s["availability"][rows, first:stop]

    def value_steps(self, first: int, stop: int) -> Generator:
        units, price, availability = self._inputs(first, stop)  # at the job's first piece
        return (
            yield from storage_value_steps(price, availability, self.hours, units, self.soc_steps)
        )
