"""The market role: registration, openings, order validation, clearing and results.

All timing comes from the container clock; a market keeps at most one pending
scheduled event, so the work of finding the next event does not grow with the horizon.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import numpy as np
from mango import sender_addr
from mango.util.scheduling import ScheduledTask

from assume.markets.clearing import get_mechanism
from assume.markets.config import MarketConfig
from assume.markets.orderbook import Orderbook, product_positions
from assume.messages import (
    ClearingFeedback,
    Opening,
    OrderSubmission,
    OutputRows,
    Registration,
    RegistrationReply,
    SimulationStart,
)
from assume.messaging import MessengerRole

logger = logging.getLogger(__name__)


def validate_orderbook(
    book: Orderbook, market: MarketConfig, products: np.ndarray, owner_of: dict, operator: str
) -> tuple[Orderbook, list[tuple[str, str]]]:
    """Clamp prices/volumes to the market limits (warning) and split off invalid orders with a
    reason: unknown product, NaN or infinite values, empty unit id, another operator's unit."""
    foreign = {}
    for unit in set(book.unit_id.tolist()):
        owner = owner_of.setdefault(unit, operator) if unit else None
        if owner != operator:
            foreign[unit] = (
                f"unit {unit} belongs to operator {owner}" if unit else "order without unit_id"
            )
    if not foreign and _in_bounds(book, market, products):
        return book, []  # the common case, found with a few numpy calls on small arrays
    finite = np.isfinite(book.price) & np.isfinite(book.volume)
    known_product = product_positions(book.start, book.end, products) >= 0
    valid = finite & known_product
    rejected = []
    if foreign or not valid.all():
        reasons = np.full(len(book), "", dtype=object)
        for unit, reason in foreign.items():
            reasons[book.unit_id == unit] = reason
        reasons[~finite] = "price and volume must be finite numbers"
        reasons[~known_product] = "product is not open on this market"
        valid = reasons == ""
        rejected = [
            (bid, str(reason))
            for bid, reason in zip(book.bid_id[~valid].tolist(), reasons[~valid], strict=True)
        ]
        book = book.take(valid)
    low, high = market.minimum_bid_price, market.maximum_bid_price
    price = book.price
    if low is not None or high is not None:
        # np.minimum/np.maximum: np.clip costs several times more on small arrays
        clamped = np.maximum(
            np.minimum(price, np.inf if high is None else high), -np.inf if low is None else low
        )
        if (clamped != price).any():
            _warn_clamp(market.market_id, operator, int((clamped != price).sum()), "price limits")
            book.price = clamped
    if market.maximum_bid_volume is not None:
        limit = market.maximum_bid_volume
        clamped = np.maximum(np.minimum(book.volume, limit), -limit)
        if (clamped != book.volume).any():
            _warn_clamp(
                market.market_id, operator, int((clamped != book.volume).sum()), "volume limit"
            )
            book.volume = clamped
    return book, rejected


def _in_bounds(book: Orderbook, market: MarketConfig, products: np.ndarray) -> bool:
    """Whether every order is for an open product and within finite price and volume limits
    (so itself finite): then validation has nothing to reject or clamp."""
    ok = _bounded(book, market, products)
    # np.count_nonzero: .all() costs several times more on small arrays
    return ok is not None and np.count_nonzero(ok) == len(ok)


def _bounded(book: Orderbook, market: MarketConfig, products: np.ndarray) -> np.ndarray | None:
    """Which orders are for an open product and within the price and volume limits; None
    if the market has no finite limits (then every order needs validating)."""
    low, high = market.minimum_bid_price, market.maximum_bid_price
    limit = market.maximum_bid_volume
    # (a sum is finite only if every term is)
    if not len(products) or None in (low, high, limit) or not math.isfinite(low + high + limit):
        return None
    if len(products) == 1:
        ok = (book.start == products[0, 0]) & (book.end == products[0, 1])
    else:
        ok = product_positions(book.start, book.end, products) >= 0
    ok &= (book.price >= low) & (book.price <= high)
    ok &= np.abs(book.volume) <= limit
    return ok


_warned: set[tuple[str, str, str]] = set()


def _warn_clamp(market_id: str, operator: str, count: int, what: str) -> None:
    """Warn once per market, operator and limit; repeats go to the debug log."""
    key = (market_id, operator, what)
    log = logger.debug if key in _warned else logger.warning
    _warned.add(key)
    log(
        "market %s: %d order(s) from %s clamped to the %s (further clamps are logged at DEBUG)",
        market_id,
        count,
        operator,
        what,
    )


def market_dispatch(market_id: str, accepted: Orderbook) -> dict[str, np.ndarray]:
    """Accepted power per unit and product start (a unit's orders in one product summed)."""
    order = np.lexsort((accepted.unit_id, accepted.start))
    start, unit = accepted.start[order], accepted.unit_id[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = (start[1:] != start[:-1]) | (unit[1:] != unit[:-1])
    groups = np.flatnonzero(first)
    return {
        "datetime": start[groups].astype("datetime64[s]"),
        "market_id": np.full(len(groups), market_id),
        "unit_id": unit[groups],
        "power": np.add.reduceat(accepted.accepted_volume[order], groups),
    }


class MarketRole(MessengerRole):
    """Runs one market: opens it on schedule, collects and validates orderbooks, clears at
    closing time and reports results to the operators and the output role."""

    def __init__(
        self,
        market: MarketConfig,
        start: int,
        end: int,
        output_addr=None,
        hosted: Sequence[str] = (),
    ):
        """``hosted``: the ids of all markets whose roles share this role's agent (the
        operators address them all at that agent); each role takes the registrations and
        orders for its own market, and the first also those for markets not hosted here,
        to refuse them."""
        super().__init__()
        self.market = market
        hosted = list(hosted) or [market.market_id]
        self.hosted = frozenset(hosted)
        self.takes_strangers = hosted[0] == market.market_id
        self.clear = get_mechanism(market.market_mechanism)
        self.output_addr = output_addr
        self.schedule = market.openings(start, end).tolist()
        self.horizon_end = end
        self.next_opening = 0
        self.operators: dict[str, object] = {}
        self.owner_of: dict[str, str] = {}
        # owner_of as arrays for checking a whole book at once (see _validated)
        self._owners: dict[str, int] = {}
        self._units = np.empty(0, dtype=str)
        self._unit_owner = np.empty(0, dtype=int)
        # operator -> a read-only unit id column found all its own (see _owned)
        self._owned_columns: dict[str, np.ndarray] = {}
        # opening time -> (products, {operator: [orderbooks]}, {operator: rejections})
        self.open_books: dict[int, tuple[np.ndarray, dict, dict]] = {}
        self.closings: list[int] = []

    def _accepts(self, content, meta: dict) -> bool:
        market_id = getattr(content, "market_id", None)
        if market_id is not None and market_id != self.market.market_id:
            if market_id in self.hosted or not self.takes_strangers:
                return False  # another market role of this agent handles it
        return super()._accepts(content, meta)

    def setup(self) -> None:
        self.on(Registration, self.handle_registration)
        self.on(OrderSubmission, self.handle_orders)

        self.on(SimulationStart, self.handle_start)

    def handle_start(self, content: SimulationStart, meta: dict) -> None:
        """Registration is over: start the opening schedule."""
        self._start_events()

    # -- scheduling ---------------------------------------------------------------------
    def _next_event_time(self) -> int | None:
        candidates = []
        if self.next_opening < len(self.schedule):
            candidates.append(self.schedule[self.next_opening])
        if self.closings:
            candidates.append(self.closings[0])
        return min(candidates) if candidates else None

    def _start_events(self) -> None:
        """Open and close the market at its times from now on (see _MarketEvents)."""
        self.context.schedule_task(_MarketEvents(self, self.context.scheduler.clock))

    def _event(self, moment: int) -> None:
        # closings first, so that operators know earlier results before they bid again
        while self.closings and self.closings[0] <= moment:
            self._close(self.closings.pop(0))
        if self.next_opening < len(self.schedule) and self.schedule[self.next_opening] <= moment:
            self._open(self.schedule[self.next_opening])
            self.next_opening += 1

    # -- protocol -----------------------------------------------------------------------
    def handle_registration(self, content: Registration, meta: dict) -> None:
        accepted = content.market_id == self.market.market_id
        reason = "" if accepted else f"this is market {self.market.market_id}"
        if accepted:
            self.operators[content.operator] = sender_addr(meta)
        self.send(RegistrationReply(self.market.market_id, accepted, reason), sender_addr(meta))

    def _open(self, opening: int) -> None:
        products = self.market.products_at(opening)
        # only the first opening may reach past the horizon; what starts after it is not offered
        products = products[products[:, 0] <= self.horizon_end]
        closing = opening + self.market.opening_duration
        self.open_books[opening] = (products, {}, {})
        self.closings.append(closing)
        self.closings.sort()
        message = Opening(self.market.market_id, opening, closing, products)
        for address in self.operators.values():
            self.send(message, address)

    def handle_orders(self, content: OrderSubmission, meta: dict) -> None:
        sender = meta.get("sender_id")
        known = self.operators.get(sender)
        entry = self.open_books.get(content.opening)
        if known is None or entry is None or content.market_id != self.market.market_id:
            reason = (
                "sender is not registered" if known is None else "market is not open for orders"
            )
            logger.warning(
                "market %s: rejected %d order(s) from %s: %s",
                self.market.market_id,
                len(content.orderbook),
                sender,
                reason,
            )
            if known is not None:
                rejected = [(bid, reason) for bid in content.orderbook.bid_id.tolist()]
                self.send(
                    ClearingFeedback(
                        content.market_id, content.opening, Orderbook.empty(), rejected
                    ),
                    known,
                )
            return
        # validated at closing, for all operators at once (see _validated)
        entry[1].setdefault(sender, []).append(content.orderbook)

    def _close(self, closing: int) -> None:
        opening = next(
            o for o in sorted(self.open_books) if o + self.market.opening_duration == closing
        )
        products, submitted, rejections = self.open_books.pop(opening)
        senders = sorted(set(submitted) | set(rejections))
        books, book = self._validated(
            {s: Orderbook.concat(submitted[s]) for s in senders if s in submitted},
            products,
            rejections,
        )
        result = self.clear(book, products)
        book.accepted_volume = result.accepted_volume
        book.accepted_price = result.accepted_price
        first = 0
        for sender in senders:
            sent = books.get(sender)
            size = len(sent) if sent is not None else 0
            part = slice(first, first + size)
            first += size
            if sent is None:
                own = book.take(part)
            else:  # the whole book is the senders' books one after the other: theirs but the
                # answer's columns are the columns they sent (as the clearing took them)
                own = Orderbook(
                    sent.start,
                    sent.end,
                    sent.price,
                    sent.volume,
                    sent.unit_id,
                    sent.bid_id,
                    sent.node,
                    book.accepted_price[part],
                    book.accepted_volume[part],
                )
            self.send(
                ClearingFeedback(self.market.market_id, opening, own, rejections.get(sender, [])),
                self.operators[sender],
            )
        if self.output_addr is not None:
            self._report(opening, products, book, result.meta)

    def _validated(
        self, books: dict[str, Orderbook], products: np.ndarray, rejections: dict
    ) -> tuple[dict[str, Orderbook], Orderbook]:
        """The orderbooks of each operator (sorted ids) as the clearing takes them, and all of
        them in one: orders rejected (into ``rejections``) or clamped as
        :func:`validate_orderbook` says.

        In the common case, every order is for a unit its operator has bid before and within
        the market's limits; that is found for all operators at once, with a few numpy calls
        on the whole book, and only the books of operators with other orders are checked one
        by one (in order of their ids: the first to bid a unit owns it, in every mode)."""
        senders = list(books)
        lengths = [len(books[s]) for s in senders]
        # the clearing replaces the accepted columns
        whole = Orderbook.concat(list(books.values()), answers=False)
        ok = self._owned(whole, books, lengths)
        if ok is not None:
            bounded = _bounded(whole, self.market, products)
            ok = None if bounded is None else ok & bounded
        if ok is not None:
            if np.count_nonzero(ok) == len(ok):
                return books, whole
            # per operator: whether all its orders are fine (counts of bad orders before each
            # book's end, so that empty books take nothing)
            bad_before = np.concatenate([[0], np.cumsum(~ok)])
            ends = np.cumsum(lengths)
            fine = (bad_before[ends] == bad_before[ends - lengths]).tolist()
        else:
            fine = [False] * len(senders)
        validated = {}
        for sender, checked in zip(senders, fine, strict=True):
            if checked:
                validated[sender] = books[sender]
                continue
            book, rejected = validate_orderbook(
                books[sender], self.market, products, self.owner_of, sender
            )
            if rejected:
                logger.warning(
                    "market %s: rejected %d order(s) from %s, first: %s",
                    self.market.market_id,
                    len(rejected),
                    sender,
                    rejected[0],
                )
                rejections.setdefault(sender, []).extend(rejected)
            validated[sender] = book
        if len(self.owner_of) != len(self._unit_owner):
            self._index_owners()
        if ok is None:  # all checked one by one: put them together again
            return validated, Orderbook.concat(list(validated.values()), answers=False)
        # the whole book again, with the books checked one by one in place of theirs and the
        # runs of books between them as slices of it (in a large scenario, one operator's
        # demand is clamped every hour: three pieces to put together instead of every book)
        pieces = []
        start = end = 0
        for sender, length, checked in zip(senders, lengths, fine, strict=True):
            end += length
            if not checked:
                pieces += [whole.take(slice(start, end - length)), validated[sender]]
                start = end
        pieces.append(whole.take(slice(start, end)))
        return validated, Orderbook.concat(pieces, answers=False)

    def _index_owners(self) -> None:
        """Units claimed by now, sorted by id, and their owners' positions in self._owners."""
        owners = sorted({o for o in self.owner_of.values() if o})
        units = sorted(u for u in self.owner_of if u)
        self._owners = {o: i for i, o in enumerate(owners)}
        self._units = np.array(units, dtype=str)
        self._unit_owner = np.array([self._owners[self.owner_of[u]] for u in units], dtype=int)

    def _owned(self, whole: Orderbook, books: dict[str, Orderbook], lengths: list[int]):
        """Which orders of ``whole`` (the ``books`` one after the other, of ``lengths``) are
        for a unit that their sender already owns; None if no sender owns any unit yet.

        A unit's owner never changes, so a read-only unit id column once found all owned by
        an operator stays so: a strategy that builds its books from the same layout every
        time (see BiddingStrategy.orders) is looked up once, not at every opening."""
        units = self._units
        if not len(units):
            return None
        known = self._owned_columns
        if all(known.get(s) is book.unit_id for s, book in books.items()):
            return np.ones(len(whole), dtype=bool)
        # an operator that owns nothing yet gets -1: none of its orders is owned
        owner = np.repeat(np.array([self._owners.get(s, -1) for s in books]), lengths)
        found = np.minimum(np.searchsorted(units, whole.unit_id), len(units) - 1)
        ok = (units[found] == whole.unit_id) & (self._unit_owner[found] == owner)
        start = 0
        for (sender, book), length in zip(books.items(), lengths, strict=True):
            column = book.unit_id
            mine = ok[start : start + length]
            if not column.flags.writeable and np.count_nonzero(mine) == length:
                known[sender] = column
            start += length
        return ok

    def _report(self, opening: int, products: np.ndarray, book: Orderbook, meta: dict) -> None:
        market_id = self.market.market_id
        count = len(products)
        columns = {
            "time": meta["product_start"].astype("datetime64[s]"),  # as ASSUME writes it
            "product_start": meta["product_start"].astype("datetime64[s]"),
            "product_end": meta["product_end"].astype("datetime64[s]"),
            "market_id": np.full(count, market_id),
        }
        for key in (
            "supply_volume",
            "demand_volume",
            "supply_volume_energy",
            "demand_volume_energy",
            "price",
            "min_price",
            "max_price",
        ):
            columns[key] = meta[key]
        columns["node"] = np.full(count, "")
        columns["only_hours"] = np.full(count, "")
        self.send(OutputRows("market_meta", columns), self.output_addr)
        if len(book):
            orders = {
                "start_time": book.start.astype("datetime64[s]"),
                "end_time": book.end.astype("datetime64[s]"),
                "market_id": np.full(len(book), market_id),
                "unit_id": book.unit_id,
                "bid_id": book.bid_id,
                "price": book.price,
                "volume": book.volume,
                "accepted_price": book.accepted_price,
                "accepted_volume": book.accepted_volume,
                "node": book.node,
                "bid_type": np.full(len(book), "SB"),
            }
            self.send(OutputRows("market_orders", orders), self.output_addr)
            accepted = book.take(book.accepted_volume != 0)
            if len(accepted):
                self.send(
                    OutputRows("market_dispatch", market_dispatch(market_id, accepted)),
                    self.output_addr,
                )


class _MarketEvents(ScheduledTask):
    """A market's openings and closings, one after the other, as one scheduled task that
    sleeps on the simulation clock until the next (a task of its own per event costs a
    task, a wrapper and mango's bookkeeping of both every time: in a distributed run, a
    good part of the manager's clock step). An event that fails is reported as a handler's
    error and ends the schedule, as the run stops."""

    def __init__(self, role: MarketRole, clock):
        super().__init__(clock)
        self.role = role

    async def run(self) -> None:
        role, clock = self.role, self.clock
        while (moment := role._next_event_time()) is not None:
            wake = clock.sleep(moment - clock.time)
            self.notify_sleeping()
            await wake
            self.notify_running()
            try:
                role._event(moment)
            except Exception as error:
                role._fail(role._event, error)
                return
