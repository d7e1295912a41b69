"""The units operator role: bids its units on the markets and books the results.

An operator holds its units as fleets (one per unit type) and, per market, the strategy
groups that bid them. It talks to markets and the output role only through messages.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from assume.markets.orderbook import Orderbook
from assume.messages import (
    ClearingFeedback,
    Opening,
    OrderSubmission,
    OutputRows,
    Registration,
    RegistrationReply,
    SimulationEnd,
)
from assume.messaging import MessengerRole
from assume.strategies.base import BiddingStrategy
from assume.timeutil import TimeIndex
from assume.units.base import Fleet

logger = logging.getLogger(__name__)


def product_steps(index: TimeIndex, products: np.ndarray) -> tuple[list[int], list[int]]:
    """The index steps [first, last) each product covers, clipped to the index."""
    first, last = [], []
    for start, end in products.tolist():  # a few products: Python ints cost less than numpy
        first.append(min(max((start - index.start) // index.step, 0), index.length))
        last.append(min(max(-(-(end - index.start) // index.step), 0), index.length))
    return first, last


@dataclass
class Submission:
    """An orderbook as the operator sent it, to book the market's answer by position.

    ``unit_id`` is the book's unit id column; ``parts`` holds, per strategy group in the
    order of the book, its fleet, its slice of the book, each order's fleet row and index
    steps [first, last) (``last`` None: each order covers the one step ``first``, an int if
    it is the same for all), and whether each unit has at most one order per product.
    ``parts`` is None if a group's orders came without a placement (see
    BiddingStrategy.placement)."""

    unit_id: np.ndarray
    parts: list[tuple[Fleet, slice, np.ndarray, np.ndarray | int, np.ndarray | None, bool]] | None

    @classmethod
    def of(
        cls, book: Orderbook, groups: list[tuple], index: TimeIndex, products: np.ndarray
    ) -> Submission:
        """The submission of ``book``, made of the orderbooks of ``groups`` (each as
        (orderbook, fleet, placement)), for the delivery windows ``products``."""
        if any(placement is None for _, _, placement in groups):
            return cls(book.unit_id, None)
        first, last = product_steps(index, products)
        single_step = all(b - a == 1 for a, b in zip(first, last, strict=True))
        parts = []
        offset = 0
        for group_book, fleet, (rows, window, unique) in groups:
            part = slice(offset, offset + len(group_book))
            offset += len(group_book)
            if single_step and len(first) == 1:
                parts.append((fleet, part, rows, first[0], None, unique))
            elif single_step:
                parts.append((fleet, part, rows, np.array(first)[window], None, unique))
            else:
                steps = (np.array(first)[window], np.array(last)[window])
                parts.append((fleet, part, rows, *steps, unique))
        return cls(book.unit_id, parts)

    def answered_in_place(self, feedback: ClearingFeedback) -> bool:
        """Whether ``feedback`` holds every order of this submission in its place (the market
        returns an operator's orders in the order they came, less the rejected ones)."""
        returned = feedback.orderbook.unit_id
        return (
            self.parts is not None
            and not feedback.rejections
            and len(returned) == len(self.unit_id)
            # in one process, the market answers with the very column it was sent
            and (
                returned is self.unit_id
                # np.count_nonzero: .all() costs several times more on small arrays
                or np.count_nonzero(returned == self.unit_id) == len(returned)
            )
        )

    def book(self, orderbook: Orderbook, accepted: np.ndarray) -> None:
        """Book the ``accepted`` orders of ``orderbook``, an answer in place."""
        for fleet, part, rows, first, last, unique in self.parts:
            mine = accepted[part]
            if not np.count_nonzero(mine):
                continue
            volume = orderbook.accepted_volume[part][mine]
            price = orderbook.accepted_price[part][mine]
            if last is not None:
                fleet.book_accepted(rows[mine], first[mine], last[mine], volume, price)
            elif isinstance(first, int):
                fleet.book_steps(rows[mine], first, volume, price, unique)
            else:
                fleet.book_steps(rows[mine], first[mine], volume, price)


class UnitsOperatorRole(MessengerRole):
    """Bids the operator's units on each market opening and records dispatch and cashflow."""

    def __init__(
        self,
        operator_id: str,
        index: TimeIndex,
        fleets: dict[str, Fleet],
        strategies: dict[str, list[BiddingStrategy]],
        market_addrs: dict,
        output_addr=None,
        register_on_ready: bool = True,
    ):
        super().__init__()
        self.operator_id = operator_id
        self.index = index
        self.fleets = fleets
        self.strategies = strategies
        self.market_addrs = market_addrs
        self.output_addr = output_addr
        self.register_on_ready = register_on_ready
        self.registered: set[str] = set()
        self.final_until = 0  # index steps before this one have their final market results
        self.executed_until = 0  # ... are executed (unit constraints applied)
        self.reported_until = 0  # ... and reported to the output role
        self.ready_until = 0  # the fleets' input series hold the steps before this one
        self.eager = any(fleet.needs_history for fleet in fleets.values()) or any(
            group.uses_history for groups in strategies.values() for group in groups
        )
        self.report_every = max(1, 86400 // index.step)
        self.rejections: list[tuple[str, str, str]] = []
        # (market id, opening) -> the orders sent and not yet answered
        self.submissions: dict[tuple[str, int], Submission] = {}

    def setup(self) -> None:
        self.on(Opening, self.handle_opening)
        self.on(ClearingFeedback, self.handle_feedback)
        self.on(RegistrationReply, self.handle_registration_reply)
        self.on(SimulationEnd, self.handle_end)

    def on_ready(self) -> None:
        if self.register_on_ready:
            self.register()

    def register(self) -> None:
        """Register with every market this operator bids on and describe its units."""
        for market_id in sorted(self.strategies):
            self.send(Registration(market_id, self.operator_id), self.market_addrs[market_id])
        if self.output_addr is not None:
            for fleet in self.fleets.values():
                if len(fleet):
                    self.send(
                        OutputRows(f"{fleet.unit_type}_meta", fleet.meta_rows(self.operator_id)),
                        self.output_addr,
                    )

    def handle_registration_reply(self, content: RegistrationReply, meta: dict) -> None:
        if content.accepted:
            self.registered.add(content.market_id)
        else:
            logger.error(
                "operator %s: market %s refused registration: %s",
                self.operator_id,
                content.market_id,
                content.reason,
            )

    def handle_opening(self, content: Opening, meta: dict) -> None:
        groups = self.strategies.get(content.market_id, [])
        products = content.products
        if len(products) > 1:
            # longest products first, then by start, as ASSUME's operators order them
            products = products[np.lexsort((products[:, 0], products[:, 0] - products[:, 1]))]
        if self.eager:
            self._execute()  # bids look back at the executed dispatch
        # the steps the products cover must hold the input series
        count = len(products)
        end = int(products[0, 1]) if count == 1 else int(products[:, 1].max()) if count else 0
        stop = -(-(end - self.index.start) // self.index.step)
        if stop > self.ready_until:
            for fleet in self.fleets.values():
                fleet.ready(stop)
            self.ready_until = min(
                (fleet.filled_until for fleet in self.fleets.values()), default=stop
            )
        bids = []  # (orderbook, fleet, placement) per strategy group with orders
        for group in groups:
            book = group.calculate_bids(products)
            if len(book):
                bids.append((book, group.fleet, group.placement(book)))
        if not bids:  # nothing to offer: no message, and no feedback to wait for
            return
        book = Orderbook.concat([group_book for group_book, _, _ in bids])
        self.submissions[(content.market_id, content.opening)] = Submission.of(
            book, bids, self.index, products
        )
        self.send(
            OrderSubmission(content.market_id, content.opening, book),
            self.market_addrs[content.market_id],
        )

    def handle_feedback(self, content: ClearingFeedback, meta: dict) -> None:
        for bid, reason in content.rejections:
            logger.warning(
                "operator %s: market %s rejected order %s: %s",
                self.operator_id,
                content.market_id,
                bid,
                reason,
            )
        book = content.orderbook
        submission = self.submissions.pop((content.market_id, content.opening), None)
        accepted = book.accepted_volume != 0
        # np.count_nonzero: .any() costs several times more on small arrays
        if np.count_nonzero(accepted):
            if submission is not None and submission.answered_in_place(content):
                submission.book(book, accepted)
            else:
                self._book_by_unit_id(book, accepted)
        # the dispatch up to now is final: execute it as ASSUME does after each clearing
        now = self.index.position(self.context.current_timestamp)
        self.execute_until(min(now + 1, self.index.length))

    def _book_by_unit_id(self, book: Orderbook, accepted: np.ndarray) -> None:
        """Book accepted orders by their unit ids (orders of units this operator does not
        hold are ignored)."""
        index = self.index
        start, end = book.start[accepted], book.end[accepted]
        first = np.minimum(np.maximum((start - index.start) // index.step, 0), index.length)
        last = np.minimum(np.maximum(-(-(end - index.start) // index.step), 0), index.length)
        unit_id = book.unit_id[accepted]
        volume, price = book.accepted_volume[accepted], book.accepted_price[accepted]
        for fleet in self.fleets.values():
            rows = fleet.rows_of(unit_id)
            mine = rows >= 0
            if mine.all():
                fleet.book_accepted(rows, first, last, volume, price)
            elif mine.any():
                fleet.book_accepted(rows[mine], first[mine], last[mine], volume[mine], price[mine])

    def handle_end(self, content: SimulationEnd, meta: dict) -> None:
        """Execute the steps left up to ``content.time`` and report everything not yet sent."""
        self.execute_until(min(self.index.position(content.time) + 1, self.index.length))
        self.report()

    def execute_until(self, stop: int) -> None:
        """The dispatch of all steps before ``stop`` is final. It is executed now where a
        strategy or unit model looks back at it (ramps, state of charge, operation time), and
        otherwise in daily chunks when it is reported."""
        self.final_until = max(self.final_until, stop)
        if self.eager:
            self._execute()
        if self.final_until - self.reported_until >= self.report_every:
            self.report()

    def _execute(self) -> None:
        first, stop = self.executed_until, self.final_until
        if stop <= first:
            return
        self.executed_until = stop
        for fleet in self.fleets.values():
            if len(fleet):
                fleet.ready(stop)
                fleet.execute(first, stop)

    def report(self) -> None:
        """Send the executed dispatch not yet reported to the output role."""
        self._execute()
        first, stop = self.reported_until, self.executed_until
        if stop <= first:
            return
        self.reported_until = stop
        if self.output_addr is not None:
            parts = [
                fleet.dispatch_columns(first, stop) for fleet in self.fleets.values() if len(fleet)
            ]
            if parts:
                self.send(OutputRows("unit_dispatch", parts), self.output_addr)
        # reported steps are needed only as far back as unit models look (with a day's
        # margin for strategies that look at the products of their last opening)
        for fleet in self.fleets.values():
            fleet.release(stop - fleet.lookback - self.report_every)
