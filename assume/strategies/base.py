"""The bidding strategy interface.

A strategy instance serves one group of units: those of one fleet (one unit type, one
units operator) that bid on one market with the same strategy. It turns the products
of an opening into orders for all of them at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from assume.forecasts import Forecasts
from assume.markets.config import MarketConfig
from assume.markets.orderbook import Orderbook
from assume.units.base import Fleet

# what a group that offers nothing returns (shared: an empty book has nothing to change)
_NO_ORDERS = Orderbook.empty()


@dataclass(frozen=True)
class _Layout:
    """The columns of a group's orderbook that depend only on the number of products and
    sides: one entry per (product, side, unit), product-major. Shared by every orderbook
    built with it, so the arrays are read-only."""

    window: np.ndarray  # position of the order's product
    rows: np.ndarray  # fleet row of the order's unit
    unit_id: np.ndarray
    bid_id: np.ndarray
    node: np.ndarray
    no_price: np.ndarray  # accepted_price before clearing (NaN)
    no_volume: np.ndarray  # accepted_volume before clearing (0)


# rough CPU time (microseconds, on the machines of benchmarks/RESULTS.md) of bidding one unit
# for one product and of booking the answer: the work of a naive strategy
PRODUCT_WORK = 20.0


class BiddingStrategy:
    """Base class: subclasses implement :meth:`calculate_bids` for the unit types they name."""

    unit_types: ClassVar[tuple[str, ...]] = ()
    #: True if bids look at executed dispatch of earlier steps beyond what the fleet needs
    uses_history: ClassVar[bool] = False

    @classmethod
    def work(cls, units: list[dict], market: MarketConfig, step: int, params: dict) -> float:
        """A rough estimate of the CPU time (microseconds) that the units of one operator
        bidding with this strategy on ``market`` (their parameters ``units``, one instance of
        the strategy) cost at each of its openings (index step ``step`` s; ``params``: the
        study case's bidding_strategy_params). ``assume -p`` balances units operators over
        workers by it; only the ratios between strategies matter. The default: PRODUCT_WORK
        per unit and product."""
        return PRODUCT_WORK * len(units) * sum(product.count for product in market.products)

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
        # the rows as a slice where they are contiguous: it selects a view, at a fraction of
        # the cost of an index array (for selections that are not kept or written to)
        contiguous = len(rows) > 0 and np.array_equal(rows, np.arange(rows[0], rows[0] + len(rows)))
        self.row_index = slice(int(rows[0]), int(rows[0]) + len(rows)) if contiguous else rows
        self._layouts: dict[tuple[int, int], _Layout] = {}
        # the last orderbook built by orders(), with the fleet row and product of each order
        self._placed: tuple[Orderbook, np.ndarray, np.ndarray, bool] | None = None

    def calculate_bids(self, products: np.ndarray) -> Orderbook:
        """Orders of this group's units for the delivery windows ``products`` ((n, 2) array)."""
        raise NotImplementedError

    def steps(self, products: np.ndarray) -> np.ndarray:
        """Index step of each product's start."""
        return (products[:, 0] - self.fleet.index.start) // self.fleet.index.step

    def step_list(self, products: np.ndarray) -> list[int]:
        """:meth:`steps` as a list; for a few products Python ints cost less than numpy."""
        index = self.fleet.index
        return [(start - index.start) // index.step for start, _ in products.tolist()]

    def placement(self, book: Orderbook) -> tuple[np.ndarray, np.ndarray, bool] | None:
        """The fleet row and the product position of each order of ``book``, and whether
        each unit has at most one order per product, if :meth:`orders` built it (the last
        one it built), else None."""
        placed = self._placed
        if placed is None or placed[0] is not book:
            return None
        return placed[1:]

    def _layout(self, count: int, sides: int) -> _Layout:
        """The layout for ``count`` products and ``sides`` orders per unit and product (cached)."""
        key = (count, sides)
        layout = self._layouts.get(key)
        if layout is None:
            n_units, repeats = len(self.rows), count * sides
            unit_id = np.tile(self.unit_ids, repeats)
            bid_number = np.repeat(np.arange(1, repeats + 1), n_units)
            node = np.array(self.fleet.text["node"], dtype=str)[self.rows]
            columns = {
                "window": np.repeat(np.arange(count), n_units * sides),
                "rows": np.tile(self.rows, repeats),
                "unit_id": unit_id,
                "bid_id": np.char.add(np.char.add(unit_id, "_"), bid_number.astype(str)),
                "node": np.tile(node, repeats),
                "no_price": np.full(len(unit_id), np.nan),
                "no_volume": np.zeros(len(unit_id)),
            }
            for array in columns.values():
                array.flags.writeable = False
            layout = self._layouts[key] = _Layout(**columns)
        return layout

    def orders(self, products, per_product: list[tuple[np.ndarray, np.ndarray]]) -> Orderbook:
        """Assemble (price, volume) arrays, one pair per product holding one entry per unit
        (or per unit and side), into an orderbook without the zero-volume orders."""
        self._placed = None
        if not per_product or not len(self.rows):
            return _NO_ORDERS
        sides = len(per_product[0][1]) // len(self.rows)
        layout = self._layout(len(per_product), sides)
        window = layout.window
        if len(per_product) == 1:  # copies: the arrays may be views of the fleet's series
            price = np.array(per_product[0][0], dtype="float64")
            volume = np.array(per_product[0][1], dtype="float64")
        else:
            price = np.concatenate([p for p, _ in per_product])
            volume = np.concatenate([v for _, v in per_product])
        # np.count_nonzero: .all() costs several times more on small arrays
        kept = np.count_nonzero(volume)
        if not kept:
            return _NO_ORDERS
        if kept == len(volume):
            book = Orderbook(
                products[:, 0].take(window),
                products[:, 1].take(window),
                price,
                volume,
                layout.unit_id,
                layout.bid_id,
                layout.node,
                layout.no_price,
                layout.no_volume,
            )
            self._placed = (book, layout.rows, window, sides == 1)
            return book
        keep = np.flatnonzero(volume)
        window = window[keep]
        book = Orderbook(
            products[:, 0].take(window),
            products[:, 1].take(window),
            price[keep],
            volume[keep],
            layout.unit_id[keep],
            layout.bid_id[keep],
            layout.node[keep],
            layout.no_price[keep],
            layout.no_volume[keep],
        )
        self._placed = (book, layout.rows[keep], window, sides == 1)
        return book
