"""Hostile input during a run: a stranger on the manager's port (garbage, truncated frames, JSON
of the wrong shape, messages for agents that do not exist, orders in the name of a registered
operator) and orders from an operator that never registered. Each is logged and dropped or
rejected, and the results are exactly those of an undisturbed run."""

import asyncio
import logging
import struct

import numpy as np
from mango.messages.message import MangoMessage
from worlds_in_one_loop import build, run_distributed

from assume import World
from assume.codec import make_codec
from assume.distributed.protocol import CONTROL_TYPES, ClockSet, ClockStop, Welcome
from assume.markets.orderbook import Orderbook
from assume.markets.role import MarketRole
from assume.messages import Opening, OrderSubmission


def _frame(payload: bytes) -> bytes:
    return struct.pack("!L", len(payload)) + payload


def _message(content, receiver_id: str, sender_id: str) -> bytes:
    meta = {"receiver_id": receiver_id, "sender_id": sender_id, "sender_addr": ("10.0.0.9", 1)}
    codec = make_codec()
    for message_type in CONTROL_TYPES:
        codec.register_message_type(message_type)
    return codec.encode(MangoMessage(content, meta))


def _hostile_books(products: np.ndarray) -> tuple[Orderbook, Orderbook]:
    start, end = int(products[0, 0]), int(products[0, 1])
    # a huge cheap offer: accepted, it would change every price of the product
    flood = Orderbook.build(start, end, -500.0, 1e5, "plant_0")
    poisoned = Orderbook.build([start, start], [end, end], [np.nan, 10.0], [50.0, np.inf], "x")
    return flood, poisoned


def _hostile_frames(opening: int, products: np.ndarray) -> list[bytes]:
    flood, poisoned = _hostile_books(products)
    return [
        _frame(b"\x00\xff garbage \xfe"),
        _frame(b'{"__type__": "OrderSubmission", "market_id": 3}'),
        _frame(b"[1, 2, 3]"),
        _frame(_message(OrderSubmission("EOM", opening, flood), "nobody", "north")),
        _frame(_message(OrderSubmission("EOM", opening, flood), "market_operator", "mallory")),
        _frame(_message(OrderSubmission("EOM", opening, poisoned), "market_operator", "mallory")),
        # in the name of a registered operator, but on a connection that never joined
        _frame(_message(OrderSubmission("EOM", opening, flood), "market_operator", "north")),
        _frame(_message(OrderSubmission("EOM", opening, flood), "market_operator", "north"))[:-7],
    ]


def test_a_stranger_on_the_managers_port_changes_no_result(
    tmp_path, port, identical, monkeypatch, caplog
):
    build(World(export_csv_path=str(tmp_path / "single"))).run()

    opened = asyncio.Queue()
    original_open = MarketRole._open

    def open_and_tell(self, opening):
        original_open(self, opening)
        workers = sorted({tuple(a.protocol_addr) for a in self.operators.values()})
        opened.put_nowait((opening, self.open_books[opening][0], workers))

    monkeypatch.setattr(MarketRole, "_open", open_and_tell)

    async def stranger():
        # while the first opening is open for orders, and again at the fifth
        seen = 0
        for target in (1, 5):
            while seen < target:
                opening, products, workers = await opened.get()
                seen += 1
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            for frame in _hostile_frames(opening, products):
                writer.write(frame)
            await writer.drain()
            writer.close()
            # and on every worker's port: the manager's messages, forged
            for host, worker_port in workers:
                _, writer = await asyncio.open_connection(host, worker_port)
                for content, receiver in (
                    (Welcome(0, "guess"), "clock"),
                    (ClockSet(opening + 10**6, 99), "clock"),
                    (Opening("EOM", opening, opening + 3600, products), "north"),
                    (ClockStop("a stranger says stop"), "clock"),
                ):
                    writer.write(_frame(_message(content, receiver, "clock")))
                await writer.drain()
                writer.close()

    async def both():
        attack = asyncio.ensure_future(stranger())
        try:
            return await run_distributed(tmp_path / "distributed", port, token="s3cret")
        finally:
            if attack.done():
                attack.result()  # the stranger's own failure would hide a weaker attack
            attack.cancel()

    with caplog.at_level(logging.WARNING):
        asyncio.run(asyncio.wait_for(both(), timeout=60))
    identical(tmp_path / "single" / "roles", tmp_path / "distributed" / "roles")
    log = caplog.text
    assert "dropped a malformed message" in log
    # nothing from a connection that has not joined reaches an agent, whatever the names
    assert log.count("dropped a OrderSubmission from") == 2 * 4
    assert "before its peer is let in" in log
    assert "dropped a ClockStop from" in log and "dropped a Opening from" in log
    assert "dropped a Welcome without the token" in log
    assert "closed inside a frame" in log


def test_orders_from_an_operator_that_never_registered_are_rejected(tmp_path, monkeypatch, caplog):
    """Inside the manager's process, a submission in the name of an operator the market does
    not know (and bad orders in it) is rejected and changes nothing."""
    build(World(export_csv_path=str(tmp_path / "clean"))).run()
    original_open = MarketRole._open

    def open_and_inject(self, opening):
        original_open(self, opening)
        products = self.open_books[opening][0]
        for book in _hostile_books(products):
            # one process: the link posts straight to the market's agent
            self.link.post(OrderSubmission("EOM", opening, book), self.context.addr, "mallory")

    monkeypatch.setattr(MarketRole, "_open", open_and_inject)
    with caplog.at_level(logging.WARNING):
        build(World(export_csv_path=str(tmp_path / "attacked"))).run()
    assert "from mallory: sender is not registered" in caplog.text
    for table in ("market_meta", "market_orders", "market_dispatch", "unit_dispatch"):
        clean = (tmp_path / "clean" / "roles" / f"{table}.csv").read_bytes()
        assert (tmp_path / "attacked" / "roles" / f"{table}.csv").read_bytes() == clean, table
