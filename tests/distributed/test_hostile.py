"""Hostile input during a run: a stranger on the manager's port (garbage, truncated frames, JSON
of the wrong shape, messages for agents that do not exist, orders in the name of a registered
operator), a stranger on the run's MQTT topics, and orders from an operator that never
registered. Each is logged and dropped or rejected, and the results are exactly those of an
undisturbed run."""

import asyncio
import logging
import struct

import numpy as np
import paho.mqtt.client as paho
from mango.messages.message import MangoMessage
from worlds_in_one_loop import build, run_distributed

from assume import World
from assume.codec import make_codec
from assume.distributed.protocol import CONTROL_TYPES, ClockSet, ClockStop, Welcome
from assume.distributed.settings import MANAGER_CLIENT_ID
from assume.markets.orderbook import Orderbook
from assume.markets.role import MarketRole
from assume.messages import Opening, OrderSubmission


def _frame(payload: bytes) -> bytes:
    return struct.pack("!L", len(payload)) + payload


def _message(content, receiver_id: str, sender_id: str, **meta) -> bytes:
    meta = {
        "receiver_id": receiver_id,
        "sender_id": sender_id,
        "sender_addr": ("10.0.0.9", 1),
        **meta,
    }
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


def _tell_openings(monkeypatch) -> asyncio.Queue:
    """A queue that gets (opening, products) whenever a market opens."""
    opened = asyncio.Queue()
    original_open = MarketRole._open

    def open_and_tell(self, opening):
        original_open(self, opening)
        opened.put_nowait((opening, self.open_books[opening][0]))

    monkeypatch.setattr(MarketRole, "_open", open_and_tell)
    return opened


def test_a_stranger_on_the_runs_mqtt_topics_changes_no_result(
    tmp_path, mosquitto, identical, monkeypatch, caplog
):
    """Over MQTT anyone the broker lets publish can write to a container's inbox topic and put
    any name in a message. Nothing reaches an agent from a peer that has not been let in: a
    worker's session once the manager's clock admitted its Hello, the manager's once a worker
    got its Welcome with the token; a message without link fields is never let in, and a new
    session under the client id of a peer in the run does not take over its link."""
    build(World(export_csv_path=str(tmp_path / "single"))).run()
    opened = _tell_openings(monkeypatch)
    host, broker_port = mosquitto.split(":")
    network = {"transport": "mqtt", "broker_host": host, "broker_port": int(broker_port)}
    stranger = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="assume_stranger")
    stranger.connect(host, int(broker_port))
    stranger.loop_start()
    sent = {}

    def publish(topic, content, receiver, sender, linked=False, pose_as="assume_stranger"):
        meta = {"sender_addr": pose_as}
        if linked:  # link fields of a session of its own, never let in
            sent[topic, pose_as] = sent.get((topic, pose_as), 0) + 1
            meta.update(session="5e55105e55105e55", seq=sent[topic, pose_as], ack=0)
        stranger.publish(topic, _message(content, receiver, sender, **meta)).wait_for_publish(10)

    async def attack():
        seen = 0
        for target in (1, 5):  # the first opening, and again the fifth
            while seen < target:
                opening, products = await opened.get()
                seen += 1
            flood, _ = _hostile_books(products)
            orders = OrderSubmission("EOM", opening, flood)
            forged = Opening("EOM", opening, opening + 3600, products)
            workers = ("assume_worker_0", "assume_worker_1")
            for linked in (False, True):
                # in the name of a registered operator
                publish(MANAGER_CLIENT_ID, orders, "market_operator", "north", linked)
                # and on the workers' topics, the manager's messages, forged
                for worker in workers:
                    for receiver in ("north", "south"):
                        publish(worker, forged, receiver, "market_operator", linked)
                    publish(worker, ClockStop("a stranger says stop"), "clock", "clock", linked)
            # posing as peers already in the run, with a new session
            for worker in workers:
                publish(MANAGER_CLIENT_ID, orders, "market_operator", "north", True, worker)
                publish(worker, forged, "north", "market_operator", True, MANAGER_CLIENT_ID)

    async def both():
        attacker = asyncio.ensure_future(attack())
        try:
            return await run_distributed(tmp_path / "mqtt", 0, token="s3cret", network=network)
        finally:
            if attacker.done():
                attacker.result()  # the stranger's own failure would hide a weaker attack
            attacker.cancel()

    try:
        with caplog.at_level(logging.WARNING):
            asyncio.run(asyncio.wait_for(both(), timeout=60))
    finally:
        stranger.loop_stop()
        stranger.disconnect()
    identical(tmp_path / "single" / "roles", tmp_path / "mqtt" / "roles")
    log = caplog.text
    gate = "nothing but the join handshake reaches an agent before its sender is let in"
    assert log.count(gate) == 4 + 16 + 8
    manager = f"dropped a OrderSubmission from assume_stranger on topic {MANAGER_CLIENT_ID}"
    assert log.count(manager) == 4
    assert log.count("dropped a Opening from assume_stranger on topic assume_worker_") == 16
    assert log.count("dropped a ClockStop from assume_stranger on topic assume_worker_") == 8
    posing = "dropped a message from a new session of {}, which is already in the run"
    assert log.count(posing.format(MANAGER_CLIENT_ID)) == 4
    assert log.count(posing.format("assume_worker_0")) == 2
    assert log.count(posing.format("assume_worker_1")) == 2


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
