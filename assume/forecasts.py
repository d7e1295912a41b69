"""Forecasts that strategies may use: market price forecasts over the simulation index.

A price forecast comes from the scenario's ``forecasts_df`` (column ``price_<market_id>``)
when given, else from a merit-order estimate over all units known to this process.
"""

from __future__ import annotations

import numpy as np

from assume.timeutil import TimeIndex
from assume.units.base import Fleet


def merit_order_price(index: TimeIndex, fleets: list[Fleet]) -> np.ndarray:
    """Per step, the marginal cost of the cheapest power plants that cover the demand
    (net of exchanges); 0 where there is no demand, the dearest plant's cost where supply
    falls short."""
    plants = [f for f in fleets if f.unit_type == "power_plant" and len(f)]
    demand = np.zeros(index.length)
    for fleet in fleets:
        if fleet.unit_type == "demand" and len(fleet):
            demand -= fleet.s["volume"].sum(axis=0)
        elif fleet.unit_type == "exchange" and len(fleet):
            demand -= fleet.s["import"].sum(axis=0) + fleet.s["export"].sum(axis=0)
    if not plants:
        return np.zeros(index.length)
    cost = np.concatenate([f.marginal_cost for f in plants])
    power = np.concatenate([f.available_power for f in plants])
    order = np.argsort(cost, axis=0, kind="stable")
    sorted_cost = np.take_along_axis(cost, order, axis=0)
    cumulative = np.cumsum(np.take_along_axis(power, order, axis=0), axis=0)
    marginal = (cumulative < demand[None, :]).sum(axis=0)
    marginal = np.minimum(marginal, len(cost) - 1)
    price = sorted_cost[marginal, np.arange(index.length)]
    return np.where(demand > 0, price, 0.0)


class Forecasts:
    """Forecast series by name, computed on first use."""

    def __init__(self, index: TimeIndex, fleets: list[Fleet], given: dict | None = None):
        self.index = index
        self.fleets = fleets
        self.series: dict[str, np.ndarray] = dict(given or {})

    def price(self, market_id: str) -> np.ndarray:
        """The price forecast of a market (EUR/MWh per index step)."""
        name = f"price_{market_id}"
        if name not in self.series:
            self.series[name] = merit_order_price(self.index, self.fleets)
        return self.series[name]
