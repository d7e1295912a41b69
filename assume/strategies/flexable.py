"""The flexABLE heuristic for power plants (ASSUME's EnergyHeuristicFlexableStrategy).

Per product each plant makes two offers: an inflexible one for its minimum power, priced
with its start-up costs in mind, and a flexible one for the rest of its capacity at marginal
cost. A running plant lowers the inflexible price by what a restart would cost, so that it
is not shut down for a few cheap hours; a plant standing still raises it by a share of its
start-up cost.
"""

from __future__ import annotations

import numpy as np

from assume.errors import ConfigurationError
from assume.markets.orderbook import Orderbook
from assume.strategies.base import BiddingStrategy
from assume.timeutil import parse_duration

# ASSUME's caps on the inflexible price of a stopped (upper) and a running (lower) plant
START_PRICE_CAP = 3000.0
RUNNING_PRICE_FLOOR = -499.0


def _ratio(numerator, denominator):
    """numerator / denominator, 0 where the denominator is 0."""
    safe = np.where(denominator == 0, 1.0, denominator)
    return np.where(denominator == 0, 0.0, numerator / safe)


class EnergyHeuristicFlexableStrategy(BiddingStrategy):
    """Inflexible bid (minimum power, start-up-aware price) and flexible bid (the rest at
    marginal cost) per product; ``eom_foresight`` (default 12h) sets the look-ahead of the
    price forecast."""

    unit_types = ("power_plant",)
    # operation times come from the executed dispatch, also of units without ramps
    uses_history = True

    def __init__(self, *args, **params):
        super().__init__(*args, **params)
        if self.forecasts is None:
            raise ConfigurationError(f"strategy {self.name!r} needs a price forecast")
        foresight = parse_duration(params.get("eom_foresight", "12h"), "eom_foresight")
        self.foresight_steps = foresight // self.fleet.index.step
        n = len(self.rows)
        # ASSUME's average operation time: steps with output > 0 among the products a unit
        # bid on, over the steps up to its last bid product (+2, ASSUME's count)
        self.total_op_time = np.zeros(n)
        self.avg_op_time = np.zeros(n)
        self._unsettled: tuple[np.ndarray, np.ndarray] | None = None

    def calculate_bids(self, products: np.ndarray) -> Orderbook:
        fleet, rows = self.fleet, self.rows
        n, length = len(rows), fleet.index.length
        self._settle_operation_time()
        forecast = self.forecasts.price(self.market.market_id)
        min_power = fleet.p["min_power"][rows]
        min_down_time = fleet.p["min_down_time"][rows]
        min_operating_time = fleet.p["min_operating_time"][rows]
        # restart cost of a running unit that would stand still for min_down_time
        restart_cost = fleet.starting_costs(rows, -min_down_time)
        restart_cost = np.where(
            min_down_time == 0, restart_cost, _ratio(restart_cost, min_down_time)
        )

        per_product = []
        first_bid = np.full(n, -1)
        last_bid = np.full(n, -1)
        previous = op_time = None
        for step in self.steps(products).tolist():
            if not 0 <= step < length:
                per_product.append((np.zeros(2 * n), np.zeros(2 * n)))
                continue
            if previous is None:
                previous = fleet.previous_power(rows, step)
                op_time = fleet.operation_time(rows, step)
            current = fleet.energy[rows, step]
            most = np.maximum(fleet.available_power[rows, step] - current, 0.0)
            least = np.maximum(min_power - current, 0.0)
            most = fleet.ramp(rows, op_time, previous, most, current)
            inflexible = fleet.ramp(rows, op_time, previous, least, current)
            marginal_cost = fleet.marginal_cost[rows, step]

            # running: undercut the marginal cost by the restart cost per MW of the
            # inflexible bid; if the plant expects to earn over the foresight window, bid
            # the inflexible part as if it cost nothing now
            last = min(step + self.foresight_steps, length - 1)
            revenue = (forecast[None, step : last + 1] - marginal_cost[:, None]).sum(axis=1)
            running_cost = np.where(
                (revenue >= 0) & (forecast[step] < marginal_cost), 0.0, marginal_cost
            )
            price_on = np.maximum(
                running_cost - _ratio(restart_cost, inflexible), RUNNING_PRICE_FLOOR
            )
            # standing still: add the start-up cost spread over the expected run time
            expected_run = np.maximum(self.avg_op_time, min_operating_time)
            start_cost = fleet.starting_costs(rows, op_time)
            markup = _ratio(
                np.where(expected_run == 0, start_cost, _ratio(start_cost, expected_run)),
                inflexible,
            )
            price_off = np.minimum(marginal_cost + markup, START_PRICE_CAP)
            inflexible_price = np.where(
                inflexible == 0, 0.0, np.where(op_time > 0, price_on, price_off)
            )

            # a stopped unit offers more than its minimum only once min_down_time is over.
            # ASSUME offers max - min even where that is negative (a buy order from a power
            # plant, e.g. at an availability below min_power); we never offer below 0.
            may_flex = (op_time <= -min_down_time) | (op_time > 0)
            flexible = np.where(may_flex, np.maximum(most - inflexible, 0.0), 0.0)
            flexible_price = np.where(may_flex, marginal_cost, 0.0)
            per_product.append(
                (
                    np.concatenate([inflexible_price, flexible_price]),
                    np.concatenate([inflexible, flexible]),
                )
            )
            bids = (inflexible != 0) | (flexible != 0)
            first_bid = np.where(bids & (first_bid < 0), step, first_bid)
            last_bid = np.where(bids, step, last_bid)

            previous = inflexible + flexible + current
            op_time = np.where(previous > 0, np.maximum(op_time, 0) + 1, np.minimum(op_time, 0) - 1)
        self._unsettled = (first_bid, last_bid)
        return self.orders(products, per_product)

    def _settle_operation_time(self) -> None:
        """Count the operating steps of the products bid in the previous (now cleared)
        opening, as ASSUME does in calculate_reward for each unit that placed orders."""
        if self._unsettled is None:
            return
        first, last = self._unsettled
        self._unsettled = None
        bid = first >= 0
        if not bid.any():
            return
        begin, end = int(first[bid].min()), int(last[bid].max()) + 1
        steps = np.arange(begin, end)
        inside = (steps[None, :] >= first[:, None]) & (steps[None, :] <= last[:, None])
        running = self.fleet.energy[self.rows, begin:end] > 0
        self.total_op_time += (running & inside).sum(axis=1)
        # ASSUME divides by len(index[:last]) + 1, i.e. the steps up to last plus one
        self.avg_op_time = np.where(bid, self.total_op_time / (last + 2), self.avg_op_time)
