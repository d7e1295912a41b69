"""The bidding strategy interface.

A strategy instance serves one group of units: those of one fleet (one unit type, one
units operator) that bid on one market with the same strategy. It turns the products
of an opening into orders for all of them at once.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from assume.forecasts import Forecasts
from assume.markets.config import MarketConfig
from assume.markets.orderbook import Orderbook
from assume.units.base import Fleet


class BiddingStrategy:
    """Base class: subclasses implement :meth:`calculate_bids` for the unit types they name."""

    unit_types: ClassVar[tuple[str, ...]] = ()
    #: True if bids look at executed dispatch of earlier steps beyond what the fleet needs
    uses_history: ClassVar[bool] = False

    def __init__(
        self,
        name: str,
        fleet: Fleet,
        rows: np.ndarray,
        market: MarketConfig,
        forecasts: Forecasts | None = None,
        **params,
    ):
        self.name = name
        self.forecasts = forecasts
        self.fleet = fleet
        self.rows = rows
        self.market = market
        self.params = params
        self.unit_ids = np.array(fleet.names, dtype=str)[rows]
        self._layouts: dict[tuple[int, int], tuple] = {}

    def calculate_bids(self, products: np.ndarray) -> Orderbook:
        """Orders of this group's units for the delivery windows ``products`` ((n, 2) array)."""
        raise NotImplementedError

    def steps(self, products: np.ndarray) -> np.ndarray:
        """Index step of each product's start."""
        return (products[:, 0] - self.fleet.index.start) // self.fleet.index.step

    def _layout(self, count: int, sides: int) -> tuple:
        """Window, unit id, bid id and node columns for ``count`` products (cached)."""
        key = (count, sides)
        layout = self._layouts.get(key)
        if layout is None:
            n_units = len(self.rows)
            window = np.repeat(np.arange(count), n_units * sides)
            unit_id = np.tile(self.unit_ids, count * sides)
            bid_number = np.repeat(np.arange(1, count * sides + 1), n_units)
            bid_id = np.char.add(np.char.add(unit_id, "_"), bid_number.astype(str))
            node = np.tile(np.array(self.fleet.text["node"], dtype=str)[self.rows], count * sides)
            layout = self._layouts[key] = (window, unit_id, bid_id, node)
        return layout

    def orders(self, products, per_product: list[tuple[np.ndarray, np.ndarray]]) -> Orderbook:
        """Assemble (price, volume) arrays, one pair per product holding one entry per unit
        (or per unit and side), into an orderbook without the zero-volume orders."""
        if not per_product or not len(self.rows):
            return Orderbook.empty()
        sides = len(per_product[0][1]) // len(self.rows)
        window, unit_id, bid_id, node = self._layout(len(per_product), sides)
        price = np.concatenate([p for p, _ in per_product])
        volume = np.concatenate([v for _, v in per_product])
        keep = volume != 0
        if keep.all():
            keep = slice(None)
        return Orderbook(
            products[window, 0][keep],
            products[window, 1][keep],
            price[keep],
            volume[keep],
            unit_id[keep],
            bid_id[keep],
            node[keep],
            np.full(len(volume), np.nan)[keep],
            np.zeros(len(volume))[keep],
        )
