"""Key performance indicators computed from the market results as they stream by."""

from __future__ import annotations

import numpy as np


class KpiAccumulator:
    """Per market: mean clearing price, total cost (price x demand energy) and total volume."""

    def __init__(self):
        self.markets: dict[str, dict[str, float]] = {}

    def add_market_meta(self, columns: dict) -> None:
        market_ids = np.asarray(columns["market_id"])
        # a market reports its own rows: one id, and no selection needed
        distinct = sorted(set(market_ids.tolist()))
        for market_id in distinct:
            rows = slice(None) if len(distinct) == 1 else market_ids == market_id
            price = np.asarray(columns["price"], dtype="float64")[rows]
            energy = np.asarray(columns["demand_volume_energy"], dtype="float64")[rows]
            totals = self.markets.setdefault(
                market_id, {"price_sum": 0.0, "count": 0, "total_cost": 0.0, "total_volume": 0.0}
            )
            totals["price_sum"] += float(price.sum())
            totals["count"] += len(price)
            totals["total_cost"] += float((price * energy).sum())
            totals["total_volume"] += float(energy.sum())

    def table(self) -> dict[str, np.ndarray]:
        """The ``kpis`` table: columns variable, ident, value."""
        variables, idents, values = [], [], []
        for market_id in sorted(self.markets):
            totals = self.markets[market_id]
            average = totals["price_sum"] / totals["count"] if totals["count"] else 0.0
            for variable, value in (
                ("avg_price", average),
                ("total_cost", totals["total_cost"]),
                ("total_volume", totals["total_volume"]),
            ):
                variables.append(variable)
                idents.append(market_id)
                values.append(value)
        if not variables:
            return {}
        return {
            "variable": np.array(variables),
            "ident": np.array(idents),
            "value": np.array(values, dtype="float64"),
        }
