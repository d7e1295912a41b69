"""Clearing mechanisms: pure functions from an orderbook and products to accepted volumes,
accepted prices and per-product results.

The matching reproduces ASSUME 0.6.0's single-sided merit order walk (demand orders by
descending price, each matched with the cheapest remaining supply), with one change:
ties are broken by (price, unit id, bid id) instead of at random, so that results never
depend on message arrival order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from assume.errors import ConfigurationError
from assume.markets.orderbook import Orderbook, product_positions


@dataclass
class ClearingResult:
    """Accepted volume/price per order (aligned with the book) and one row per product."""

    accepted_volume: np.ndarray
    accepted_price: np.ndarray
    meta: dict[str, np.ndarray]


@dataclass
class _Match:
    """The outcome of matching one product: accepted volumes and, per demand, its last supply."""

    supply_accepted: np.ndarray
    demand_accepted: np.ndarray
    demand_last_supply: np.ndarray


def _match(supply_price, supply_volume, demand_price, demand_volume) -> _Match:
    """Match supply (ascending price) against demand (descending price, positive volumes).

    Each demand order in turn takes the cheapest remaining supply up to its volume; a
    supply order priced above that demand's price ends the matching (it and all dearer
    supply are rejected, the demand is served only as far as cheaper supply reached).
    The marginal supply order is accepted partially and stays first in line.
    """
    n_supply = len(supply_volume)
    supply_accepted = np.zeros(n_supply)
    demand_accepted = np.zeros(len(demand_volume))
    demand_last = np.full(len(demand_volume), -1, dtype="int64")
    if n_supply == 0:
        return _Match(supply_accepted, demand_accepted, demand_last)
    cumulative = np.cumsum(supply_volume)
    # first supply order dearer than each demand price (supply prices ascend)
    dearer = np.searchsorted(supply_price, demand_price, side="right")
    first_open = 0  # first supply order not fully accepted
    matched = 0.0  # demand volume served so far
    for j, volume in enumerate(demand_volume.tolist()):
        if first_open >= n_supply:
            break
        wanted = matched + volume
        covering = int(np.searchsorted(cumulative, wanted, side="left"))
        needed_last = min(covering, n_supply - 1)
        too_dear = int(dearer[j])
        if too_dear <= needed_last:
            # supply from ``too_dear`` on is rejected; serve what cheaper supply gives
            if too_dear > first_open:
                supply_accepted[first_open:too_dear] = supply_volume[first_open:too_dear]
                demand_last[j] = too_dear - 1
                served = cumulative[too_dear - 1] - matched
                demand_accepted[j] = served if served > 0 else 0.0
            break
        supply_accepted[first_open:needed_last] = supply_volume[first_open:needed_last]
        demand_last[j] = needed_last
        if covering >= n_supply:
            supply_accepted[needed_last] = supply_volume[needed_last]
            demand_accepted[j] = cumulative[-1] - matched
            first_open = n_supply
            break
        surplus = cumulative[covering] - wanted
        supply_accepted[covering] = supply_volume[covering] - surplus
        demand_accepted[j] = volume
        matched = wanted
        first_open = covering if surplus > 0 else covering + 1
    return _Match(supply_accepted, demand_accepted, demand_last)


def merit_order(
    book: Orderbook, position: np.ndarray, side: np.ndarray, sort_price: np.ndarray
) -> np.ndarray:
    """``np.lexsort((book.bid_id, book.unit_id, sort_price, side, position))``, with the text
    keys compared only among orders alike in the others (sorting text costs several times as
    much as sorting numbers, and ties in price are few)."""
    ordering = np.lexsort((sort_price, side, position))
    keys = position[ordering], side[ordering]
    price = sort_price[ordering]
    alike = (price[1:] == price[:-1]) | (np.isnan(price[1:]) & np.isnan(price[:-1]))
    for key in keys:
        alike &= key[1:] == key[:-1]
    if not alike.any():
        return ordering
    # runs of alike orders, each still in the order of the book (np.lexsort is stable)
    edges = np.diff(np.concatenate(([0], alike.view(np.int8), [0])))
    for first, last in zip(
        np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) + 1, strict=True
    ):
        run = ordering[first:last]
        ordering[first:last] = run[np.lexsort((book.bid_id[run], book.unit_id[run]))]
    return ordering


def _clear(book: Orderbook, products: np.ndarray, pay_as_bid: bool) -> ClearingResult:
    n_products = len(products)
    accepted_volume = np.zeros(len(book))
    accepted_price = np.full(len(book), np.nan)
    meta = {
        "product_start": products[:, 0].copy(),
        "product_end": products[:, 1].copy(),
        "supply_volume": np.zeros(n_products),
        "demand_volume": np.zeros(n_products),
        "price": np.zeros(n_products),
        "min_price": np.zeros(n_products),
        "max_price": np.zeros(n_products),
    }
    if not len(book):  # nobody bid: nothing accepted, every price 0
        hours = (products[:, 1] - products[:, 0]) / 3600.0
        meta["supply_volume_energy"] = meta["supply_volume"] * hours
        meta["demand_volume_energy"] = meta["demand_volume"] * hours
        return ClearingResult(accepted_volume, accepted_price, meta)
    position = product_positions(book.start, book.end, products)
    # one sort for all products: product, side, price (demand descending), unit, bid
    side = np.where(book.volume > 0, 0, np.where(book.volume < 0, 1, 2))
    sort_price = np.where(side == 1, -book.price, book.price)
    ordering = merit_order(book, position, side, sort_price)
    sorted_position = position[ordering]
    bounds = np.searchsorted(sorted_position, np.arange(n_products + 1))
    for k in range(n_products):
        rows = ordering[bounds[k] : bounds[k + 1]]
        if len(rows) == 0:
            continue
        rows_side = side[rows]
        supply = rows[rows_side == 0]
        demand = rows[rows_side == 1]
        match = _match(
            book.price[supply], book.volume[supply], book.price[demand], -book.volume[demand]
        )
        accepted_volume[supply] = match.supply_accepted
        accepted_volume[demand] = -match.demand_accepted
        taken = match.supply_accepted > 0
        supply_volume = match.supply_accepted.sum()
        meta["supply_volume"][k] = supply_volume
        meta["demand_volume"][k] = match.demand_accepted.sum()
        if pay_as_bid:
            prices = book.price[supply]
            accepted_price[supply[taken]] = prices[taken]
            has_last = match.demand_last_supply >= 0
            accepted_price[demand[has_last]] = prices[match.demand_last_supply[has_last]]
            if taken.any():
                meta["price"][k] = (
                    match.supply_accepted[taken] * prices[taken]
                ).sum() / supply_volume
                meta["min_price"][k] = prices[taken].min()
                meta["max_price"][k] = prices[taken].max()
        else:
            clearing_price = book.price[supply][taken].max() if taken.any() else 0.0
            accepted_price[rows] = clearing_price
            meta["price"][k] = meta["min_price"][k] = meta["max_price"][k] = clearing_price
    hours = (products[:, 1] - products[:, 0]) / 3600.0
    meta["supply_volume_energy"] = meta["supply_volume"] * hours
    meta["demand_volume_energy"] = meta["demand_volume"] * hours
    return ClearingResult(accepted_volume, accepted_price, meta)


def pay_as_clear(book: Orderbook, products: np.ndarray) -> ClearingResult:
    """Uniform price: every accepted order gets the highest accepted supply price (0 if none)."""
    return _clear(book, products, pay_as_bid=False)


def pay_as_bid(book: Orderbook, products: np.ndarray) -> ClearingResult:
    """Each accepted supply order is paid its own price; the product price is their
    volume-weighted mean."""
    return _clear(book, products, pay_as_bid=True)


MECHANISMS: dict[str, Callable[[Orderbook, np.ndarray], ClearingResult]] = {
    "pay_as_clear": pay_as_clear,
    "pay_as_bid": pay_as_bid,
}


def get_mechanism(name: str) -> Callable[[Orderbook, np.ndarray], ClearingResult]:
    """The clearing function registered under ``name``; an unknown name lists the known ones."""
    try:
        return MECHANISMS[name]
    except KeyError:
        raise ConfigurationError(
            f"unknown market_mechanism {name!r}; known mechanisms: {', '.join(sorted(MECHANISMS))}"
        ) from None
