"""The optimising strategy of power plants (powerplant_energy_optimized): a unit commitment by
dynamic programming over on/off states with start-up costs and minimum up and down times, priced
as assume.strategies.optimized describes."""

from __future__ import annotations

from collections.abc import Generator

import numpy as np

from assume.markets.orderbook import Orderbook
from assume.strategies.optimized import OptimizedStrategy


def plant_moves(start_cost: np.ndarray, up: np.ndarray, down: np.ndarray) -> dict:
    """The on/off states of power plants and where one step leads, each (n, U + M).

    ``start_cost`` (n, M) is the cost of a start after 1..M steps standing still (M: the
    longest downtime that matters), ``up`` / ``down`` (n,) the minimum up and down times in
    steps (>= 1). States 0..U-1 have run 1..U steps (U = max(up)), states U..U+M-1 have
    stood still 1..M steps; the last state of each mode counts on. Per state: the state
    after running / resting one more step, whether that is allowed and what a start costs.
    """
    n, most_down = start_cost.shape
    most_up = int(up.max(initial=1))
    state = np.arange(most_up + most_down)
    running = np.broadcast_to(state < most_up, (n, len(state)))
    up_count = np.broadcast_to(state + 1, (n, len(state)))  # steps run, in running states
    down_count = up_count - most_up  # steps stood still, in resting states
    stood = np.clip(down_count, 1, most_down)
    return {
        "running": running,
        "run_next": np.where(running, np.minimum(state + 1, most_up - 1), 0),
        "run_ok": running | (down_count >= down[:, None]),
        "run_cost": np.where(running, 0.0, np.take_along_axis(start_cost, stood - 1, axis=1)),
        "rest_next": np.where(running, most_up, most_up + np.minimum(stood, most_down - 1)),
        "rest_ok": ~running | (up_count >= up[:, None]),
    }


def _plant_choice(moves: dict, state, reward, later, rows):
    """Value of running and of resting one step from ``state`` (-inf where not allowed)."""
    run = np.where(
        moves["run_ok"][rows, state],
        reward - moves["run_cost"][rows, state] + later[rows, moves["run_next"][rows, state]],
        -np.inf,
    )
    rest = np.where(
        moves["rest_ok"][rows, state], later[rows, moves["rest_next"][rows, state]], -np.inf
    )
    return run, rest


def plant_value_steps(running_reward: np.ndarray, moves: dict) -> Generator[None, None, np.ndarray]:
    """The value function of power plants over H steps, by backward induction: the best
    revenue (H + 1, n, U + M) from each state of :func:`plant_moves` at the start of each
    step, given what running earns in each step, ``running_reward`` (n, H). A generator that
    yields after each step (a job for assume.lookahead)."""
    n, length = running_reward.shape
    states = moves["running"].shape[1]
    values = np.zeros((length + 1, n, states))
    rows, state = np.arange(n)[:, None], np.arange(states)[None, :]
    for t in range(length - 1, -1, -1):
        run, rest = _plant_choice(moves, state, running_reward[:, t, None], values[t + 1], rows)
        np.maximum(run, rest, out=values[t])
        yield
    return values


def plant_schedule(
    state: np.ndarray, running_reward: np.ndarray, moves: dict, values: np.ndarray, steps: int
) -> tuple[np.ndarray, np.ndarray]:
    """Follow the value function from ``state`` (n,) over ``steps`` steps: whether each unit
    runs (n, S) and what running is worth beyond its revenue in that step compared with
    resting (EUR; -inf where it may not rest)."""
    n = len(state)
    rows = np.arange(n)
    runs = np.zeros((n, steps), dtype=bool)
    commitment = np.zeros((n, steps))
    for t in range(steps):
        run, rest = _plant_choice(moves, state, running_reward[:, t], values[t + 1], rows)
        # ties keep the current mode
        runs[:, t] = np.where(moves["running"][rows, state], run >= rest, run > rest)
        commitment[:, t] = run - running_reward[:, t] - rest
        state = np.where(
            runs[:, t], moves["run_next"][rows, state], moves["rest_next"][rows, state]
        )
    return runs, commitment


class PowerPlantEnergyOptimizedStrategy(OptimizedStrategy):
    """Power plants commit to the on/off schedule that maximises revenue minus marginal and
    start-up costs against the price forecast over ``optimized_foresight`` (default 24h),
    within their minimum up and down times (in steps, for every plant), by dynamic
    programming. In committed steps a plant offers its minimum power (all of its power if
    that is 0) at the price where running stops beating resting, start-up costs and the
    value of staying on included, and the rest at marginal cost; otherwise nothing. Ramps
    are not modelled; a running plant with min_power 0 may run at zero output."""

    unit_types = ("power_plant",)
    # the starting state comes from the executed dispatch, also of units without ramps
    uses_history = True

    def __init__(self, *args, **params):
        super().__init__(*args, **params)
        p, rows = self.fleet.p, self.rows
        up = np.maximum(np.ceil(p["min_operating_time"][rows]), 1).astype(np.int64)
        down = np.maximum(np.ceil(p["min_down_time"][rows]), 1).astype(np.int64)
        # beyond the warm-start downtime every start is cold: longer downtimes are alike
        thresholds = np.maximum(p["downtime_hot_start"], p["downtime_warm_start"])[rows]
        most_down = int(
            max(down.max(initial=1), np.floor(thresholds / self.hours).max(initial=0) + 1)
        )
        start_cost = (
            np.stack(
                [
                    self.fleet.starting_costs(rows, np.full(len(rows), -count))
                    for count in range(1, most_down + 1)
                ],
                axis=1,
            )
            if len(rows)
            else np.zeros((0, most_down))
        )
        self.moves = plant_moves(start_cost, up, down)
        self.most_up = int(up.max(initial=1))
        self.most_down = most_down

    def bid(self, products: np.ndarray, horizon: tuple, values) -> Orderbook:
        fleet, rows = self.fleet, self.rows
        steps, first, last, stop = horizon
        running_reward, marginal_cost, available, minimum = self._rewards(first, stop)
        op_time = fleet.operation_time(rows, first)
        state = np.where(
            op_time > 0,
            np.minimum(op_time, self.most_up) - 1,
            self.most_up + np.minimum(np.maximum(-op_time, 1), self.most_down) - 1,
        )
        count = last + 1 - first
        runs, commitment = plant_schedule(state, running_reward, self.moves, values, count)

        available, marginal_cost = available[:, :count], marginal_cost[:, :count]
        block = np.where(minimum[:, :count] > 0, minimum[:, :count], available)
        with np.errstate(divide="ignore", invalid="ignore"):
            block_price = marginal_cost - commitment / (block * self.hours)
        block_price = self.price_limits(np.where(block > 0, block_price, 0.0))
        current = fleet.energy[rows, first : last + 1]
        free = np.where(runs, np.maximum(available - current, 0.0), 0.0)
        inflexible = np.minimum(np.maximum(block - current, 0.0), free)
        volume = np.concatenate([inflexible, free - inflexible])
        price = np.concatenate([block_price, np.maximum(marginal_cost, block_price)])
        return self.orders(products, self.per_product(steps, first, volume, price, sides=2))

    def _rewards(self, first: int, stop: int) -> tuple[np.ndarray, ...]:
        """What running earns in each step of [first, stop) against the price forecast, with
        the plants' marginal cost, available power and minimum power (each (n, stop - first))."""
        fleet, rows = self.fleet, self.rows
        price = self.forecasts.price(self.market.market_id)[first:stop]
        marginal_cost = fleet.marginal_cost[rows, first:stop]
        available = fleet.available_power[rows, first:stop]
        minimum = np.minimum(fleet.p["min_power"][rows, None], available)
        margin = price - marginal_cost
        running_reward = self.hours * (
            margin * minimum + np.maximum(margin, 0.0) * (available - minimum)
        )
        return running_reward, marginal_cost, available, minimum

    def value_steps(self, first: int, stop: int) -> Generator:
        running_reward = self._rewards(first, stop)[0]  # at the job's first piece
        return (yield from plant_value_steps(running_reward, self.moves))
