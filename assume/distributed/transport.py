"""mango TCP and MQTT containers that drop undecodable frames instead of breaking.

In mango 2.4 a frame the codec cannot decode is fatal to more than itself:

- TCP: ``ContainerProtocol.data_received`` lets the error escape, so asyncio closes the
  connection and logs "Fatal error: protocol.data_received() call failed" without the peer's
  address. Frames behind it in the buffer are lost, and the sending container keeps the dead
  connection in its pool: whatever it sends on it until the pool's TTL (30 s) is silently
  dropped while ``send_message`` returns True.
- MQTT: the error escapes the ``on_message`` callback in paho's network thread; paho logs
  "Caught exception in on_message" and re-raises, which ends the thread. The container
  then receives nothing and stops answering the broker's keep-alive.

Here such a frame is logged with its origin (the peer's address, the MQTT topic) and
dropped; the connection, the container and the messages around it carry on. The MQTT
container, with its exactly-once links through the broker, is in
:mod:`assume.distributed.mqtt`.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import socket
from types import NoneType
from typing import Literal

from mango.container.core import Container
from mango.container.protocol import HEADER, ContainerProtocol
from mango.container.tcp import TCPContainer
from mango.messages.codecs import Codec
from mango.messages.message import MangoMessage
from mango.util.clock import Clock

from assume.codec import MalformedMessage, make_codec
from assume.distributed.mqtt import GuardedMQTTContainer
from assume.distributed.protocol import Welcome
from assume.errors import ConfigurationError
from assume.idle import hand_to

logger = logging.getLogger(__name__)

# the metadata mango's TCPContainer.send_message puts in when given no more
_OWN_META = frozenset({"sender_id", "sender_addr", "receiver_id"})


class GuardedProtocol(ContainerProtocol):
    """mango's length-prefixed TCP framing, dropping frames the codec rejects.

    In the containers of a distributed run, a connection carries nothing but the join
    handshake until the clock has let its peer in (``joined``): on the manager a
    :class:`Hello` with the token, on a worker its manager's :class:`Welcome` (with the token)
    or :class:`Refused`. A peer without the token reaches no agent, whatever names it puts in
    its messages."""

    joined = False
    # called once the connection has closed (the manager's clock watches each worker's)
    on_lost = None

    def data_received(self, data: bytes) -> None:
        self._buffer.extend(data)
        while len(self._buffer) >= HEADER.size:
            end = HEADER.size + HEADER.unpack_from(self._buffer)[0]
            if len(self._buffer) < end:
                return
            frame = bytes(self._buffer[HEADER.size : end])
            del self._buffer[:end]
            try:
                message = self.codec.decode(frame)
            except MalformedMessage as error:
                peer = self.transport.get_extra_info("peername")
                logger.warning("dropped a malformed message from %s: %s", peer, error)
                continue
            content, meta = message.split_content_and_meta()
            allowed = self.container.before_joining
            if not self.joined and allowed is not None:
                if type(content) not in allowed:
                    logger.warning(
                        "dropped a %s from %s: nothing but the join handshake comes in on a "
                        "connection before its peer is let in",
                        type(content).__name__,
                        self.transport.get_extra_info("peername"),
                    )
                    continue
                if type(content) is Welcome and content.token == self.container.join_token:
                    # the manager answered; what it sends next comes right behind, so let it
                    # in now rather than when the clock gets to the Welcome
                    self.joined = True
            meta["network_protocol"] = "tcp"
            meta["connection"] = self
            # straight to the receiving agent: what the container's inbox task would do,
            # without a task per message
            receiver = self.container._agents.get(meta.get("receiver_id"))
            if receiver is not None:
                hand_to(receiver, content, meta)
            else:
                peer = self.transport.get_extra_info("peername")
                logger.warning(
                    "dropped a %s from %s for agent %r, which is not here",
                    type(content).__name__,
                    peer,
                    meta.get("receiver_id"),
                )

    def connection_lost(self, exc: Exception | None) -> None:
        if self._buffer:
            peer = self.transport.get_extra_info("peername")
            logger.warning(
                "connection from %s closed inside a frame: %d bytes dropped",
                peer,
                len(self._buffer),
            )
        super().connection_lost(exc)
        if self.on_lost is not None:
            on_lost, self.on_lost = self.on_lost, None
            on_lost()


class GuardedTCPContainer(TCPContainer):
    """A mango TCP container whose server reads with :class:`GuardedProtocol`.

    Only the server side needs it: mango never writes back on a connection it accepted,
    so the connections this container opens to send never receive frames.

    With ``batching``, messages to other containers are kept until :meth:`flush`, which
    writes each peer's messages in one go: the clocks flush when a step's messages are
    complete, so a step costs one write per peer and direction instead of one per message.
    """

    batching = False
    #: what a connection may carry before the clock has let its peer in (None: anything);
    #: the manager's take a Hello, a worker's the manager's answer to its own
    before_joining: tuple[type, ...] | None = None
    #: the token a manager's Welcome must carry (a worker's container)
    join_token = ""
    #: seconds to wait for a peer to accept a connection (None: as long as the system does,
    #: which is minutes for a host that drops the attempt)
    connect_timeout: float | None = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._held: dict[tuple, list[bytes]] = {}
        self._links: dict[tuple, GuardedProtocol] = {}
        self._opening: dict[tuple, asyncio.Lock] = {}

    async def _send_external_message(self, addr, message, meta) -> bool:
        if not self.batching or not isinstance(addr, tuple | list) or len(addr) != 2:
            return await super()._send_external_message(addr, message, meta)
        self._hold(tuple(addr), message)
        return True

    def _hold(self, peer: tuple, message: MangoMessage) -> None:
        """Encode ``message`` and keep its frame for the next :meth:`flush` to ``peer``."""
        meta = message.meta if type(message) is MangoMessage else None
        if (
            type(meta) is dict
            and meta.keys() == _OWN_META
            and meta["sender_addr"] == self.addr
            and type(meta["receiver_id"]) is str
            and type(meta["sender_id"]) in (str, NoneType)
        ):  # what this container's send_message puts in, and no more: see _encode_own
            payload = self._encode_own(message.content, meta)
        else:
            payload = self.codec.encode(message)
        self._keep(peer, payload)

    def _keep(self, peer: tuple, payload: bytes) -> None:
        self._held.setdefault(peer, []).append(HEADER.pack(len(payload)) + payload)

    def _encode_own(self, content, meta: dict) -> bytes:
        """The frame of a message with the metadata this container puts in (its address, the
        sender's and the receiver's ids): the same for every message from one agent to another,
        so a codec that can keeps its text (see MessageCodec.encode_posted)."""
        encode = getattr(self.codec, "encode_posted", None)
        if encode is None:
            return self.codec.encode(MangoMessage(content, meta))
        return encode(content, meta, (self.addr, meta["sender_id"], meta["receiver_id"]))

    def post(self, content, receiver_addr, sender_id: str | None = None) -> bool:
        """Send without awaiting anything (a batching container only): a message for an agent
        here goes into its inbox, one for another container is encoded and kept for
        :meth:`flush`. Roles send through this, so a message costs no scheduled task."""
        peer = receiver_addr.protocol_addr
        peer = tuple(peer) if isinstance(peer, list) else peer
        receiver_id = receiver_addr.aid
        meta = {"sender_id": sender_id, "sender_addr": self.addr, "receiver_id": receiver_id}
        if peer == self.addr:
            meta["network_protocol"] = "tcp"
            return self._send_internal_message(content, receiver_id, default_meta=meta)
        self._keep(peer, self._encode_own(content, meta))
        return True

    async def flush(self) -> None:
        """Write the kept messages, one write per peer, in the order they were sent. A peer's
        messages are taken only once its connection is open: a flush that waits for one
        must not let a later flush write that peer's later messages first."""
        for peer in list(self._held):
            if not self._held.get(peer):
                continue  # an earlier flush took them meanwhile
            protocol = await self._connection(peer)
            frames = self._held.pop(peer, None)
            if not frames:
                continue
            if protocol is None:
                logger.warning("%d message(s) to %s:%s not sent", len(frames), *peer)
            else:
                protocol.transport.write(b"".join(frames))

    def forget(self, peer) -> None:
        """Drop what is kept for ``peer`` (a peer that has left the run)."""
        self._held.pop(tuple(peer) if isinstance(peer, list) else peer, None)

    async def _connection(self, peer: tuple) -> GuardedProtocol | None:
        """The open connection to ``peer`` (one per peer, kept for the whole run, so that
        messages keep their order); None, with a warning, if it cannot be opened."""
        protocol = self._links.get(peer)
        if protocol is not None and not protocol.transport.is_closing():
            return protocol
        # one opening at a time per peer: two flushes at once (the heartbeat and a step's
        # messages) would otherwise open two connections, and the peer lets in only one
        async with self._opening.setdefault(peer, asyncio.Lock()):
            protocol = self._links.get(peer)
            if protocol is not None and not protocol.transport.is_closing():
                return protocol
            if not self._held.get(peer):
                return None  # nothing left to send (an earlier flush took it, or it left)
            return await self._open(peer)

    async def _open(self, peer: tuple) -> GuardedProtocol | None:
        try:
            _, protocol = await asyncio.wait_for(
                asyncio.get_running_loop().create_connection(
                    lambda: GuardedProtocol(container=self, codec=self.codec), *peer
                ),
                self.connect_timeout,
            )
        except OSError as error:  # TimeoutError included
            reason = (
                f"no answer in {self.connect_timeout:g} s"
                if isinstance(error, TimeoutError)
                else error
            )
            logger.warning("could not reach %s:%s: %s", *peer, reason)
            return None
        self._links[peer] = protocol
        return protocol

    async def shutdown(self) -> None:
        for protocol in self._links.values():
            protocol.transport.close()
        self._links.clear()
        await super().shutdown()

    async def start(self) -> None:
        # TCPContainer.start with another protocol; the rest of its start is Container.start
        try:
            self.server = await asyncio.get_running_loop().create_server(
                lambda: GuardedProtocol(container=self, codec=self.codec), *self.addr
            )
        except OSError as error:
            host, port = self.addr
            if error.errno == errno.EADDRINUSE:
                reason = (
                    f"{os.strerror(error.errno)} (is another run or program using the port? "
                    "--port chooses another, --port 0 any free one)"
                )
            elif error.errno == errno.EADDRNOTAVAIL or isinstance(error, socket.gaierror):
                reason = f"{error} (--host must be an address of this machine)"
            else:
                reason = str(error)
            raise ConfigurationError(f"cannot listen on {host}:{port}: {reason}") from None
        self.addr = (self.addr[0], self.server.sockets[0].getsockname()[1])
        await Container.start(self)


def create_container(
    kind: Literal["tcp", "mqtt"],
    *,
    clock: Clock,
    codec: Codec | None = None,
    addr: tuple[str, int] | None = None,
    broker: tuple | str | None = None,
    client_id: str | None = None,
    inbox_topic: str | None = None,
    **kwargs,
) -> Container:
    """A container for one process of a distributed run, with :func:`make_codec` by default.

    ``tcp`` listens on ``addr`` (host, port; port 0 picks a free one at start).
    ``mqtt`` connects to ``broker`` ((host, port[, keepalive]) or host) as ``client_id``
    and receives on ``inbox_topic`` (default: the client id); ``login=`` a
    :class:`~assume.distributed.mqtt.BrokerLogin` gives credentials and TLS. Other keyword
    arguments go to the mango container.
    """
    codec = codec if codec is not None else make_codec()
    if kind == "tcp":
        if addr is None:
            raise ValueError("a TCP container needs addr=(host, port)")
        return GuardedTCPContainer(addr=tuple(addr), codec=codec, clock=clock, **kwargs)
    if kind == "mqtt":
        if broker is None or not client_id:
            raise ValueError("an MQTT container needs broker= and client_id=")
        return GuardedMQTTContainer(
            client_id=client_id,
            broker_addr=broker,
            inbox_topic=inbox_topic,
            codec=codec,
            clock=clock,
            **kwargs,
        )
    raise ValueError(f"unknown container kind {kind!r}; use 'tcp' or 'mqtt'")
