"""Elastic demand (ASSUME's EnergyHeuristicElasticStrategy): a demand curve in ``num_bids``
steps instead of one bid at the price cap.

With ``elasticity_model: linear`` the price falls linearly from ``price`` at no volume to 0
at the full demand; ``isoelastic`` follows P = (Q / Q_max) ** (1 / elasticity), with the
volume whose willingness to pay exceeds ``price`` bid at ``price``. As in ASSUME, the curve
spans the unit's largest power (max(|min_power|, |max_power|)) in every product, whatever
the demand series says.
"""

from __future__ import annotations

import numpy as np

from assume.errors import ConfigurationError
from assume.markets.orderbook import Orderbook
from assume.strategies.base import BiddingStrategy

MODELS = ("linear", "isoelastic")


def linear_curve(max_price, volume, num_bids: int):
    """Prices and (positive) volumes of a linear demand curve in ``num_bids`` equal steps;
    each step is priced at its left end."""
    bid_volume = volume / num_bids
    slope = -(max_price / volume)
    steps = np.arange(num_bids)
    return max_price + slope * steps * bid_volume, np.full(num_bids, bid_volume)


def isoelastic_curve(max_price, volume, elasticity, num_bids: int):
    """Prices and (positive) volumes of an isoelastic demand curve: the volume bought at
    any price up to ``max_price`` first, the rest in ``num_bids - 1`` equal steps, each
    priced at its right end."""
    first = volume * max_price**elasticity
    bid_volume = (volume - first) / (num_bids - 1)
    steps = np.arange(1, num_bids)
    prices = ((first + steps * bid_volume) / volume) ** (1 / elasticity)
    return (
        np.concatenate([[max_price], prices]),
        np.concatenate([[first], np.full(num_bids - 1, bid_volume)]),
    )


class EnergyHeuristicElasticStrategy(BiddingStrategy):
    """Demands bid a stepwise linear or isoelastic demand curve in every product."""

    unit_types = ("demand",)

    def __init__(self, *args, **params):
        super().__init__(*args, **params)
        fleet, rows = self.fleet, self.rows
        volume = np.maximum(np.abs(fleet.p["min_power"][rows]), np.abs(fleet.p["max_power"][rows]))
        max_price = fleet.p["price"][rows]
        elasticity = fleet.p["elasticity"][rows]
        num_bids = fleet.p["num_bids"][rows].astype("int64")
        sides = int(num_bids.max()) if len(rows) else 0
        # one column per curve step; units with fewer steps bid 0 (dropped) in the rest
        self.prices = np.zeros((sides, len(rows)))
        self.volumes = np.zeros((sides, len(rows)))
        for i, unit in enumerate(self.unit_ids):
            model = fleet.text["elasticity_model"][rows[i]]
            where = f"unit {unit!r} ({self.name})"
            # ASSUME bids nothing without a model and rejects these inputs when building the
            # unit; we reject them all when the strategy is set up
            if model not in MODELS:
                raise ConfigurationError(
                    f"{where}: elasticity_model must be 'linear' or 'isoelastic', got {model!r}"
                )
            if num_bids[i] < 2:
                raise ConfigurationError(f"{where}: num_bids must be at least 2, got {num_bids[i]}")
            if volume[i] == 0:
                continue  # ASSUME divides by zero here; a unit without power bids nothing
            if model == "linear":
                if max_price[i] <= 0:
                    raise ConfigurationError(
                        f"{where}: a linear demand curve needs a positive price, got {max_price[i]}"
                    )
                curve = linear_curve(max_price[i], volume[i], num_bids[i])
            else:
                if elasticity[i] >= 0:
                    raise ConfigurationError(
                        f"{where}: an isoelastic demand curve needs a negative elasticity, "
                        f"got {elasticity[i]}"
                    )
                if max_price[i] ** elasticity[i] > 1:
                    raise ConfigurationError(
                        f"{where}: at price {max_price[i]} and elasticity {elasticity[i]} the "
                        "volume bought at the price cap exceeds max_power"
                    )
                curve = isoelastic_curve(max_price[i], volume[i], elasticity[i], num_bids[i])
            self.prices[: num_bids[i], i], self.volumes[: num_bids[i], i] = curve
        self.prices = self.prices.ravel()
        self.volumes = -self.volumes.ravel()

    def calculate_bids(self, products: np.ndarray) -> Orderbook:
        return self.orders(products, [(self.prices, self.volumes)] * len(products))
