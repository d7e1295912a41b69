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

from collections.abc import Generator

import numpy as np

from assume.errors import ConfigurationError
from assume.lookahead import Job, ahead, complete
from assume.markets.orderbook import Orderbook
from assume.strategies.base import BiddingStrategy
from assume.strategies.storage_values import (
    POWER_TOLERANCE,
    STORAGE_PARAMETERS,
    storage_reward,
    storage_terms,
    storage_value_steps,
    table_cost,
    tried_cost,
)
from assume.timeutil import parse_duration

# the price of output that must run (minimum up time) on a market without a price floor
# (ASSUME's default minimum_bid_price)
MUST_RUN_PRICE = -500.0


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


# microseconds per candidate move of storage_values on the machines of benchmarks/RESULTS.md
# (see StorageEnergyOptimizedStrategy.work)
MOVE_WORK = 0.0011


def _interpolate(values: np.ndarray, position: np.ndarray) -> np.ndarray:
    """Value functions (..., n, K) at fractional level positions (..., n), linearly."""
    last = values.shape[-1] - 1
    lower = np.minimum(position.astype(np.int64), last - 1)
    fraction = (position - lower).ravel()
    # flat positions: one row of K values per (..., unit)
    at = np.arange(lower.size) * (last + 1) + lower.ravel()
    flat = values.ravel()
    return (flat[at] * (1 - fraction) + flat[at + 1] * fraction).reshape(lower.shape)


# a value function is exact but for rounding, about 1e-15 of its size, by which its two ways
# of computing it (assume.strategies.storage_values) differ: plans treat values closer than
# this share of the largest as equal, so that rounding does not choose between equal plans
VALUE_TOLERANCE = 1e-12


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
        # values within VALUE_TOLERANCE of the best tie: staying idle (maybe between two
        # levels) wins a tie, else the lowest level
        near = VALUE_TOLERANCE * (1.0 + np.abs(later).max(axis=1))
        most = moves.max(axis=1)
        best = np.argmax(moves >= (most - near)[:, None], axis=1)
        move = most > _interpolate(later, position) + near
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
    def work(cls, units: list[dict], market, step: int, params: dict) -> float:
        """The dynamic programme's cost per opening at about MOVE_WORK per candidate move,
        by the cheaper of its ways as storage_value_steps chooses it (in one batch): foresight
        steps x levels x the moves in the units' reach, or the range maxima's table."""
        try:
            foresight = parse_duration(params.get("optimized_foresight", "24h"), "")
            soc_steps = int(params.get("soc_steps", 101))
            hours = step / 3600.0
            reaches = []
            for unit in units:
                level = (unit["max_soc"] - unit["min_soc"]) * unit["capacity"] / (soc_steps - 1)
                charge = abs(unit["max_power_charge"]) * unit["efficiency_charge"] * hours
                discharge = abs(unit["max_power_discharge"]) / unit["efficiency_discharge"] * hours
                reach = (charge + discharge) / level
                reaches.append(
                    min(reach, 2 * (soc_steps - 1)) if np.isfinite(reach) else 2 * (soc_steps - 1)
                )
        except (ConfigurationError, TypeError, ValueError, ZeroDivisionError, KeyError):
            return super().work(units, market, step, params)
        widest = max(reaches, default=0.0)
        tried = tried_cost(len(units), widest + 1, soc_steps)
        table = table_cost(len(units), np.log2(max(widest / 2, 1)) + 1, soc_steps)
        moves = -(-foresight // step) * min(tried, table)
        return MOVE_WORK * moves + super().work(units, market, step, params)

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
