"""Real TCP and MQTT containers exchanging messages and dropping what the codec rejects."""

from __future__ import annotations

import asyncio
import logging
import queue
import shutil
import socket
import struct
import subprocess
import threading

import paho.mqtt.client as paho
import pytest
from codec_cases import (
    CODEC,
    MALFORMED,
    MESSAGES,
    TIMEOUT,
    UnknownToReceivers,
    assert_same,
)
from mango import Agent, AsyncioClock, activate, addr
from mango.messages.message import MangoMessage

from assume.codec import make_codec
from assume.distributed.transport import create_container
from assume.messages import (
    SimulationEnd,
    SimulationStart,
)

# --- real containers ------------------------------------------------------------------


class Inbox(Agent):
    """Puts every message it receives into a queue."""

    def __init__(self):
        super().__init__()
        self.messages: asyncio.Queue = asyncio.Queue()

    def handle_message(self, content, meta):
        self.messages.put_nowait((content, meta))

    async def next(self):
        return await asyncio.wait_for(self.messages.get(), TIMEOUT)


class TransportLog(logging.Handler):
    """The transport's warnings, and a way to wait until a number of them were logged."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages: list[str] = []
        self.loop = asyncio.get_running_loop()
        self.changed = asyncio.Event()
        # assume.distributed.transport (TCP) and assume.distributed.mqtt
        self.logger = logging.getLogger("assume.distributed")

    def __enter__(self):
        self.logger.addHandler(self)
        return self

    def __exit__(self, *exc):
        self.logger.removeHandler(self)

    def emit(self, record):
        # MQTT containers log from paho's network thread
        self.messages.append(record.getMessage())
        self.loop.call_soon_threadsafe(self.changed.set)

    async def wait_for(self, count: int) -> None:
        async def reached():
            while len(self.messages) < count:
                self.changed.clear()
                if len(self.messages) < count:
                    await self.changed.wait()

        await asyncio.wait_for(reached(), TIMEOUT)


def tcp_frame(payload: bytes) -> bytes:
    return struct.pack("!L", len(payload)) + payload


def valid_frame(content, receiver_id: str, codec=CODEC) -> bytes:
    return codec.encode(MangoMessage(content, {"receiver_id": receiver_id, "sender_id": "raw"}))


def test_tcp_containers_exchange_messages_and_drop_garbage():
    feedback = MESSAGES[7]

    async def scenario():
        sender_codec = make_codec()
        sender_codec.register_message_type(UnknownToReceivers)
        a = create_container("tcp", addr=("127.0.0.1", 0), clock=AsyncioClock(), codec=sender_codec)
        b = create_container("tcp", addr=("127.0.0.1", 0), clock=AsyncioClock())
        sender = a.register(Agent(), "sender")
        inbox = b.register(Inbox(), "inbox")
        async with activate(a, b):
            target = addr(b.addr, "inbox")
            assert await sender.send_message(feedback, target)
            content, meta = await inbox.next()
            assert_same(content, feedback)
            assert meta["sender_addr"] == a.addr and meta["network_protocol"] == "tcp"

            with TransportLog() as log:
                # garbage on one connection, then a valid frame on the same connection
                _, writer = await asyncio.open_connection(*b.addr)
                port = writer.get_extra_info("sockname")[1]
                for data, _ in MALFORMED.values():
                    writer.write(tcp_frame(data))
                writer.write(tcp_frame(valid_frame(SimulationEnd(1), "inbox")))
                await writer.drain()
                assert_same((await inbox.next())[0], SimulationEnd(1))
                assert len(log.messages) == len(MALFORMED)
                assert all(f"('127.0.0.1', {port})" in message for message in log.messages)

                # a frame cut short, then the connection closes
                writer.write(tcp_frame(valid_frame(SimulationEnd(2), "inbox"))[:-5])
                writer.close()
                await log.wait_for(len(MALFORMED) + 1)
                assert "closed inside a frame" in log.messages[-1]

                # unframed bytes: the header announces ~1.2 GB that never come
                _, raw = await asyncio.open_connection(*b.addr)
                raw.write(b"GARBAGE!" * 10)
                await raw.drain()

                # a frame the receiver cannot decode, on the sender's pooled connection
                assert await sender.send_message(UnknownToReceivers(1), target)
                assert await sender.send_message(SimulationStart(3), target)
                assert_same((await inbox.next())[0], SimulationStart(3))
                assert "unknown __type__ 'UnknownToReceivers'" in log.messages[len(MALFORMED) + 1]
                raw.close()
                await log.wait_for(len(MALFORMED) + 3)
                assert "closed inside a frame: 80 bytes dropped" in log.messages[-1]
        assert inbox.messages.empty()

    asyncio.run(scenario())


def test_container_factory_refuses_incomplete_arguments():
    with pytest.raises(ValueError, match="addr"):
        create_container("tcp", clock=AsyncioClock())
    with pytest.raises(ValueError, match="broker= and client_id="):
        create_container("mqtt", clock=AsyncioClock(), broker=("127.0.0.1", 1883))
    with pytest.raises(ValueError, match="unknown container kind 'udp'"):
        create_container("udp", clock=AsyncioClock())


MOSQUITTO = shutil.which("mosquitto") or shutil.which("/usr/sbin/mosquitto")


def forward_lines(stream, lines: queue.Queue) -> None:
    for line in stream:
        lines.put(line)


def start_mosquitto(config) -> subprocess.Popen | None:
    """mosquitto with ``config``, once it says it is running; None if it did not start."""
    process = subprocess.Popen(
        [MOSQUITTO, "-c", str(config)], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
    )
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=forward_lines, args=(process.stderr, lines), daemon=True).start()
    try:
        line = ""
        while "running" not in line and "Error" not in line:
            line = lines.get(timeout=TIMEOUT)
    except queue.Empty:
        line = ""
    if "running" in line:
        return process
    process.kill()
    process.wait()
    return None


@pytest.fixture(scope="module")
def mosquitto(tmp_path_factory):
    """A mosquitto of our own on a free port of 127.0.0.1; yields (host, port)."""
    if MOSQUITTO is None:
        pytest.skip("the mosquitto binary is not installed (apt-get install mosquitto)")
    config = tmp_path_factory.mktemp("mosquitto") / "mosquitto.conf"
    for _ in range(3):  # the probed port may be taken before mosquitto binds it
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        config.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\n")
        process = start_mosquitto(config)
        if process is not None:
            break
    else:
        pytest.fail("mosquitto did not start on 127.0.0.1")
    yield ("127.0.0.1", port)
    process.terminate()
    process.wait(TIMEOUT)


def test_mqtt_containers_exchange_messages_and_drop_garbage(mosquitto):
    feedback = MESSAGES[7]

    def publish_raw(payloads: list[bytes], topic: str) -> None:
        client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="raw_publisher")
        client.connect(*mosquitto)
        client.loop_start()
        try:
            for payload in payloads:
                client.publish(topic, payload, qos=1).wait_for_publish(TIMEOUT)
        finally:
            client.disconnect()
            client.loop_stop()

    async def scenario():
        a = create_container("mqtt", broker=mosquitto, client_id="a", clock=AsyncioClock())
        b = create_container("mqtt", broker=mosquitto, client_id="b", clock=AsyncioClock())
        sender = a.register(Agent(), "sender")
        inbox = b.register(Inbox(), "inbox")
        async with activate(a, b):
            target = addr("b", "inbox")
            await sender.send_message(feedback, target, qos=1)
            content, meta = await inbox.next()
            assert_same(content, feedback)
            assert meta["sender_addr"] == "a" and meta["topic"] == "b"

            with TransportLog() as log:
                # one publisher, one topic, one QoS: the broker keeps the order
                garbage = [data for data, _ in MALFORMED.values()]
                valid = valid_frame(SimulationEnd(1), "inbox")
                await asyncio.to_thread(publish_raw, [*garbage, valid], "b")
                assert_same((await inbox.next())[0], SimulationEnd(1))
                assert len(log.messages) == len(MALFORMED)
                assert all("on topic b" in message for message in log.messages)
            await sender.send_message(SimulationStart(2), target, qos=1)
            assert_same((await inbox.next())[0], SimulationStart(2))
        assert inbox.messages.empty()

    asyncio.run(scenario())


def test_a_flush_waiting_for_a_connection_is_not_overtaken():
    """Frames go out in the order they were posted, also when a flush waits while the
    connection to their peer opens and later flushes come meanwhile (a step's messages, the
    heartbeat)."""
    written: list[bytes] = []

    class Transport:
        def is_closing(self) -> bool:
            return False

        def write(self, data: bytes) -> None:
            written.append(data)

    class Opened:
        transport = Transport()

    async def scenario() -> list[str]:
        container = create_container("tcp", clock=AsyncioClock(), addr=("127.0.0.1", 0))
        container.batching = True
        connected = asyncio.Event()

        async def open_slowly(peer):
            await connected.wait()
            container._links[peer] = Opened()
            return container._links[peer]

        container._open = open_slowly
        receiver = addr(("127.0.0.1", 1), "agent")
        flushes = []
        for text in ("first", "second", "third"):
            container.post(text, receiver, "sender")
            flushes.append(asyncio.create_task(container.flush()))
            await asyncio.sleep(0)  # the flush starts (and waits for the connection)
            if text == "second":
                connected.set()
        await asyncio.gather(*flushes)
        data = b"".join(written)
        return sorted(("first", "second", "third"), key=lambda text: data.index(text.encode()))

    assert asyncio.run(scenario()) == ["first", "second", "third"]
