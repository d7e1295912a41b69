"""The columnar orderbook: orders as parallel numpy arrays, built, sent and cleared as arrays.

Sign convention: volume > 0 supplies (sells), volume < 0 consumes (buys).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np


def _text(values, length: int) -> np.ndarray:
    if values is None:
        return np.full(length, "", dtype=str)
    if isinstance(values, str):
        return np.full(length, values, dtype=f"<U{max(1, len(values))}")
    array = np.asarray(values)
    return array if array.dtype.kind == "U" or len(array) == 0 else array.astype(str)


@dataclass
class Orderbook:
    """Orders of one or more units for one market opening; each field is one column."""

    start: np.ndarray
    end: np.ndarray
    price: np.ndarray
    volume: np.ndarray
    unit_id: np.ndarray
    bid_id: np.ndarray
    node: np.ndarray
    accepted_price: np.ndarray
    accepted_volume: np.ndarray

    @classmethod
    def build(
        cls,
        start,
        end,
        price,
        volume,
        unit_id,
        bid_id=None,
        node=None,
        accepted_price=None,
        accepted_volume=None,
    ) -> Orderbook:
        """Make an orderbook from columns; scalars are broadcast to the length of ``volume``."""
        volume = np.atleast_1d(np.asarray(volume, dtype="float64"))
        length = len(volume)

        def column(values, dtype):
            array = np.asarray(values, dtype=dtype)
            return np.full(length, array, dtype=dtype) if array.ndim == 0 else array

        unit_id = _text(unit_id, length)
        if bid_id is None:
            bid_id = np.char.add(np.char.add(unit_id, "_"), np.arange(1, length + 1).astype(str))
        return cls(
            start=column(start, "int64"),
            end=column(end, "int64"),
            price=column(price, "float64"),
            volume=volume,
            unit_id=unit_id,
            bid_id=_text(bid_id, length),
            node=_text(node if node is not None else "node0", length),
            accepted_price=column(np.nan if accepted_price is None else accepted_price, "float64"),
            accepted_volume=column(0.0 if accepted_volume is None else accepted_volume, "float64"),
        )

    @classmethod
    def empty(cls) -> Orderbook:
        """An orderbook without orders (with the column types :meth:`build` gives)."""
        number, text = np.empty(0), np.empty(0, dtype="<U1")
        times = np.empty(0, dtype="int64")
        return cls(times, times, number, number, text, text, text, number, number)

    def __len__(self) -> int:
        return len(self.volume)

    def take(self, positions) -> Orderbook:
        """The orders at ``positions`` (index array or boolean mask), as a new orderbook."""
        return Orderbook(*[getattr(self, name)[positions] for name in COLUMNS])

    @classmethod
    def concat(cls, books: list[Orderbook], answers: bool = True) -> Orderbook:
        """The orders of ``books`` one after the other. ``answers=False`` leaves the market's
        answer out (accepted price NaN, accepted volume 0), for orders about to be cleared:
        two columns fewer to copy."""
        if len(books) == 1 and len(books[0]):
            return books[0]  # the common case: an operator with one strategy group
        books = [book for book in books if len(book)]
        if not books:
            return cls.empty()
        if len(books) == 1:
            return books[0]
        names = COLUMNS if answers else ORDERS
        columns = {name: np.concatenate([getattr(b, name) for b in books]) for name in names}
        if not answers:
            count = len(columns["volume"])
            columns.update(accepted_price=np.full(count, np.nan), accepted_volume=np.zeros(count))
        return cls(**columns)

    def to_wire(self) -> dict:
        """Plain lists for the JSON codec."""
        return {name: getattr(self, name).tolist() for name in COLUMNS}


COLUMNS = tuple(f.name for f in fields(Orderbook))
ORDERS = tuple(name for name in COLUMNS if not name.startswith("accepted_"))
"""The columns an operator fills; the market fills the others when it clears."""


def product_positions(start: np.ndarray, end: np.ndarray, products: np.ndarray) -> np.ndarray:
    """Position of each (start, end) window in ``products``; -1 where it matches none."""
    if len(products) == 1:
        return np.where((start == products[0, 0]) & (end == products[0, 1]), 0, -1)
    keys = products[:, 0] * (1 << 22) + (products[:, 1] - products[:, 0]) // 60
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    wanted = start * (1 << 22) + (end - start) // 60
    found = np.minimum(np.searchsorted(sorted_keys, wanted), len(keys) - 1)
    return np.where(sorted_keys[found] == wanted, order[found], -1)
