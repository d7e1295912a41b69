"""The bidding strategy interface.

A strategy instance serves one group of units: those of one fleet (one unit type, one
units operator) that bid on one market with the same strategy. It turns the products
of an opening into orders for all of them at once.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from assume.markets.config import MarketConfig
from assume.markets.orderbook import Orderbook
from assume.units.base import Fleet


class BiddingStrategy:
    """Base class: subclasses implement :meth:`calculate_bids` for the unit types they name."""

    unit_types: ClassVar[tuple[str, ...]] = ()

    def __init__(self, name: str, fleet: Fleet, rows: np.ndarray, market: MarketConfig, **params):
        self.name = name
        self.fleet = fleet
        self.rows = rows
        self.market = market
        self.params = params
        self.unit_ids = np.array(fleet.names, dtype=str)[rows]

    def calculate_bids(self, products: np.ndarray) -> Orderbook:
        """Orders of this group's units for the delivery windows ``products`` ((n, 2) array)."""
        raise NotImplementedError

    def steps(self, products: np.ndarray) -> np.ndarray:
        """Index step of each product's start."""
        return (products[:, 0] - self.fleet.index.start) // self.fleet.index.step

    def orders(self, products, per_product: list[tuple[np.ndarray, np.ndarray]]) -> Orderbook:
        """Assemble (price, volume) arrays, one pair of (units,) arrays per product, into an
        orderbook without the zero-volume orders."""
        n_units = len(self.rows)
        if not per_product:
            return Orderbook.empty()
        count = len(per_product)
        sides = len(per_product[0][0]) // max(n_units, 1) if n_units else 1
        price = np.concatenate([p for p, _ in per_product])
        volume = np.concatenate([v for _, v in per_product])
        window = np.repeat(np.arange(count), n_units * sides)
        unit_id = np.tile(self.unit_ids, count * sides)
        bid_number = np.repeat(np.arange(1, count * sides + 1), n_units)
        bid_id = np.char.add(np.char.add(unit_id, "_"), bid_number.astype(str))
        keep = volume != 0
        node = np.tile(np.array(self.fleet.text["node"], dtype=str)[self.rows], count * sides)
        return Orderbook.build(
            start=products[window, 0][keep],
            end=products[window, 1][keep],
            price=price[keep],
            volume=volume[keep],
            unit_id=unit_id[keep],
            bid_id=bid_id[keep],
            node=node[keep],
        )
