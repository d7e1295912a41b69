"""Forecasts that strategies may use: market price forecasts over the simulation index.

A price forecast comes from the scenario's ``forecasts_df`` (column ``price_<market_id>``)
when given, else from a merit-order estimate as ASSUME 0.6.0 computes it
(ForecastInitialisation.calculate_market_price_forecast).
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np

from assume.timeutil import TimeIndex
from assume.units.base import Fleet

# ASSUME's forecast price where the power plants cannot cover the demand
SHORTAGE_PRICE = 1000.0
MONTH_SECONDS = 31 * 86400


def _bidding(fleet: Fleet, bidders: Collection[str] | None) -> np.ndarray:
    """Rows of ``fleet`` whose units bid on the market (all rows without a bidder list)."""
    if bidders is None:
        return np.arange(len(fleet))
    # a set, not np.isin: that sorts through np.unique, whose first call imports numpy.ma
    # (10 ms of every run with a forecast)
    bidding = set(bidders)
    return np.array([row for row, name in enumerate(fleet.names) if name in bidding], dtype=int)


def merit_order_price(
    index: TimeIndex, fleets: list[Fleet], bidders: Collection[str] | None = None
) -> np.ndarray:
    """Per step, the marginal cost of the first power plant, cheapest first, at which the
    plants' available power covers the demand net of exchanges (the cheapest plant's
    cost where there is no demand, SHORTAGE_PRICE where the plants fall short).

    Only units in ``bidders`` (unit ids bidding on the market; ``None``: all units) count.
    Storages are left out, as in ASSUME. ASSUME adds imports to the demand and subtracts
    exports (the opposite of its own docstring); here imports reduce it and exports add.
    """
    bidding = [(fleet, _bidding(fleet, bidders)) for fleet in fleets]
    bidding = [(fleet, rows) for fleet, rows in bidding if len(rows)]
    if not any(fleet.unit_type == "power_plant" for fleet, _ in bidding):
        return np.full(index.length, SHORTAGE_PRICE)
    # a month at a time: the fleets' series over the whole horizon need not fit in memory
    width = max(1, MONTH_SECONDS // index.step)
    return np.concatenate(
        [
            _merit_order_window(bidding, first, min(first + width, index.length))
            for first in range(0, index.length, width)
        ]
    )


def _merit_order_window(bidding: list[tuple[Fleet, np.ndarray]], first: int, stop: int):
    """:func:`merit_order_price` over the steps [first, stop)."""
    demand = np.zeros(stop - first)
    costs, powers = [], []
    for fleet, rows in bidding:
        if fleet.unit_type == "power_plant":
            series = fleet.window(first, stop)
            costs.append(series["marginal_cost"][rows])
            powers.append(series["available_power"][rows])
        elif fleet.unit_type == "demand":
            demand += np.abs(fleet.window(first, stop)["volume"][rows]).sum(axis=0)
        elif fleet.unit_type == "exchange":
            series = fleet.window(first, stop)
            demand -= np.abs(series["import"][rows]).sum(axis=0)
            demand += np.abs(series["export"][rows]).sum(axis=0)
    cost = np.concatenate(costs)
    order = np.argsort(cost, axis=0, kind="stable")
    sorted_cost = np.take_along_axis(cost, order, axis=0)
    cumulative = np.cumsum(np.take_along_axis(np.concatenate(powers), order, axis=0), axis=0)
    marginal = (cumulative < demand[None, :]).sum(axis=0)
    price = sorted_cost[np.minimum(marginal, len(cost) - 1), np.arange(stop - first)]
    return np.where(marginal < len(cost), price, SHORTAGE_PRICE)


class Forecasts:
    """Forecast series by name, computed on first use.

    ``bidders`` maps a market id to the ids of the units bidding on it, so that a market's
    merit-order forecast counts only those (as ASSUME does); without it every unit counts.
    """

    def __init__(
        self,
        index: TimeIndex,
        fleets: list[Fleet],
        given: dict | None = None,
        bidders: dict[str, Collection[str]] | None = None,
    ):
        self.index = index
        self.fleets = fleets
        self.series: dict[str, np.ndarray] = dict(given or {})
        self.bidders = bidders

    def price(self, market_id: str) -> np.ndarray:
        """The price forecast of a market (EUR/MWh per index step)."""
        name = f"price_{market_id}"
        if name not in self.series:
            bidders = None if self.bidders is None else self.bidders.get(market_id, ())
            self.series[name] = merit_order_price(self.index, self.fleets, bidders)
        return self.series[name]
