"""Naive strategies: bid what the unit can do at its marginal cost (or its set price)."""

from __future__ import annotations

import numpy as np

from assume.markets.orderbook import Orderbook
from assume.strategies.base import BiddingStrategy


class EnergyNaiveStrategy(BiddingStrategy):
    """Power plants offer their free available capacity (ramp-limited) at marginal cost;
    demands bid their not yet covered demand at their price."""

    unit_types = ("power_plant", "demand")

    def calculate_bids(self, products: np.ndarray) -> Orderbook:
        fleet, rows = self.fleet, self.rows
        length = fleet.index.length
        per_product = []
        if fleet.unit_type == "demand":
            price = fleet.p["price"][rows]
            for step in self.step_list(products):
                if 0 <= step < length:
                    volume = fleet.s["volume"][rows, step] - fleet.energy[rows, step]
                else:
                    volume = np.zeros(len(rows))
                per_product.append((price, volume))
            return self.orders(products, per_product)
        if not fleet.has_ramps:
            return self.orders(products, [self._offer(step) for step in self.step_list(products)])
        previous = op_time = None
        for step in self.step_list(products):
            if not 0 <= step < length:
                per_product.append((np.zeros(len(rows)), np.zeros(len(rows))))
                continue
            if previous is None:
                previous = fleet.previous_power(rows, step)
                op_time = fleet.operation_time(rows, step) if fleet.has_ramps else 0
            current = fleet.energy[rows, step]
            free = np.maximum(fleet.available_power[rows, step] - current, 0.0)
            volume = fleet.ramp(rows, op_time, previous, free, current)
            per_product.append((fleet.marginal_cost[rows, step], volume))
            previous = volume + current
            if fleet.has_ramps:
                op_time = np.where(
                    previous > 0, np.maximum(op_time, 0) + 1, np.minimum(op_time, 0) - 1
                )
        return self.orders(products, per_product)

    def _offer(self, step: int) -> tuple[np.ndarray, np.ndarray]:
        """(price, volume) of plants without ramp limits in one step: what is not yet sold
        of their available power, at marginal cost."""
        fleet, rows = self.fleet, self.row_index
        if not 0 <= step < fleet.index.length:
            return np.zeros(len(self.rows)), np.zeros(len(self.rows))
        free = np.maximum(fleet.available_power[rows, step] - fleet.energy[rows, step], 0.0)
        return fleet.marginal_cost[rows, step], free


class ExchangeEnergyNaiveStrategy(BiddingStrategy):
    """Exchanges offer their import at price_import and bid their export at price_export."""

    unit_types = ("exchange",)

    def calculate_bids(self, products: np.ndarray) -> Orderbook:
        fleet, rows = self.fleet, self.rows
        length = fleet.index.length
        price = np.concatenate([fleet.p["price_import"][rows], fleet.p["price_export"][rows]])
        per_product = []
        for step in self.step_list(products):
            if 0 <= step < length:
                volume = np.concatenate(
                    [fleet.s["import"][rows, step], fleet.s["export"][rows, step]]
                )
            else:
                volume = np.zeros(2 * len(rows))
            per_product.append((price, volume))
        return self.orders(products, per_product)
