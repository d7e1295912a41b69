"""The MQTT container of a distributed run: exactly-once, ordered links through a broker.

Messages are published at QoS 0 on clean sessions, so a broker that restarts loses what it
held, and a client that is away misses what was published meanwhile. The containers make up
for it themselves, per pair of containers (a :class:`Channel` on each side):

- every message to another container carries the sender's session id, a sequence number per
  destination (1, 2, 3, ...) and a cumulative acknowledgement: the highest sequence number
  received in order from that destination;
- the sender keeps each message until the destination acknowledges it;
- the receiver delivers a message only if it is the next one expected from its sender. An
  older one is a duplicate, a later one follows a loss: both are dropped, and a gap makes the
  receiver ask the sender to resend (:class:`~assume.distributed.protocol.Resume`);
- after a reconnection a container subscribes its inbox again, sends every peer a Resume with
  its acknowledgement, and resends what that peer has not acknowledged; a container receiving
  a Resume resends everything after its acknowledgement. Whichever side subscribes last
  announces itself once its subscription is in place, and a broker handles a client's
  SUBSCRIBE before its later PUBLISH, so nothing stays missing.

A peer that restarts has a new session id: its link starts afresh, and messages meant for its
previous session are dropped. Heartbeats and clock messages travel on the same links, so the
clock never sees a message lost to a broker restart, while a broker away longer than the peer
timeout stops the run as a dead peer does.

A broker lets one client per client id in: when a second process connects under a client id
in use (a second worker started with the same index, a second run with the same run name), it
closes the first one's connection, and under MQTT 3.1.1 without saying why. Both processes
then reconnect and close each other's connection, over and over. A container whose
connections the broker closes so soon after each (re)connection several times in a row gives
up with an error that says so (see :data:`TAKEOVERS`); the newcomer gives up first, so a
run keeps its process and the newcomer goes.

All link bookkeeping runs on the event loop's thread: paho's network thread only hands the
raw payload over. A payload the codec cannot decode is logged with its topic and dropped (in
mango 2.4 the error would escape paho's callback and end its network thread). Messages
on topics other than the container's inbox are delivered as they come. On the inbox, the
containers of a distributed run let nothing but the join handshake through from a peer that
has not been let in, and never anything without link fields (see GuardedMQTTContainer).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import secrets
import socket
import time
from collections import deque
from dataclasses import dataclass, field

import paho.mqtt.client as paho
from mango.container.core import Container
from mango.container.mqtt import MQTTContainer
from mango.messages.message import MangoMessage

from assume.codec import MalformedMessage
from assume.distributed.protocol import Resume, Welcome
from assume.errors import AssumeError, ConfigurationError, PeerError
from assume.idle import hand_to

logger = logging.getLogger(__name__)

RECONNECT_DELAY = (0.1, 1.0)
"""Seconds paho waits before reconnecting: the first delay, doubled per attempt up to the
second."""
HANDSHAKE_TIMEOUT = 10.0
"""Seconds a reachable broker has to accept the login and the inbox subscription."""
SHORT_CONNECTION = 2.0
"""Seconds: a connection the broker closes sooner than this after connecting counts as taken
over by another process with the same client id."""
TAKEOVERS = (3, 6, 12)
"""Taken-over connections in a row after which a container gives up: one whose very first
connection lasted less than :data:`NEWCOMER` (the newcomer under its client id), one whose
first connection lasted longer, and one already in a run (whose peer has let it in)."""
NEWCOMER = 0.5
"""Seconds: the newcomer's first connection lasts until the other process reconnects, about
the first reconnect delay."""
_LOGIN_REFUSALS = ("Bad user name or password", "Not authorized")


@dataclass(frozen=True)
class BrokerLogin:
    """How a container logs in to its broker: a user name and password, and TLS (with the
    system's CAs unless ``ca`` names a CA file; ``cert`` and ``key`` a client certificate)."""

    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: bool = False
    ca: str | None = None
    cert: str | None = None
    key: str | None = None


class Arrival(enum.Enum):
    """What a received sequence number is to its channel."""

    NEXT = "the next one expected: deliver it"
    DUPLICATE = "received before: drop it"
    EARLY = "something before it is missing: drop it, it will be resent in order"


class Channel:
    """One container's side of an ordered, exactly-once link with one peer: the messages it
    sent that the peer has not acknowledged, and how far it has received the peer's."""

    def __init__(self):
        self.peer_session: str | None = None
        # whether the peer's current session has been let in (see GuardedMQTTContainer)
        self.joined = False
        self.retired: set[str] = set()
        self.sent = 0
        self.kept: deque[tuple[int, bytes]] = deque()
        self.received = 0
        self.requested: int | None = None

    def meet(self, session: str) -> bool:
        """Whether a message of the peer's ``session`` belongs to this channel. The first
        session seen is adopted; a new one (the peer restarted) starts the channel afresh;
        one that was replaced is stale."""
        if session == self.peer_session:
            return True
        if session in self.retired:
            return False
        if self.peer_session is not None:
            self.retired.add(self.peer_session)
            self.sent, self.received, self.requested = 0, 0, None
            self.kept.clear()
        self.peer_session = session
        return True

    def keep(self, payload: bytes) -> int:
        """Keep the next message, encoded with sequence number ``sent + 1``, until the peer
        acknowledges it; its sequence number."""
        self.sent += 1
        self.kept.append((self.sent, payload))
        return self.sent

    def acknowledge(self, ack: int) -> None:
        """The peer has received everything up to ``ack``: forget it."""
        kept = self.kept
        while kept and kept[0][0] <= ack:
            kept.popleft()

    def accept(self, seq: int) -> Arrival:
        """What the peer's message ``seq`` is; the next one expected is counted as received."""
        if seq == self.received + 1:
            self.received = seq
            return Arrival.NEXT
        return Arrival.DUPLICATE if seq <= self.received else Arrival.EARLY

    def resend_wanted(self) -> bool:
        """Whether to ask the peer to resend after a gap: once per gap, not once per message
        behind it."""
        if self.requested == self.received:
            return False
        self.requested = self.received
        return True

    def unacknowledged(self) -> list[bytes]:
        """The kept messages, in the order they were sent."""
        return [payload for _, payload in self.kept]


class GuardedMQTTContainer(MQTTContainer):
    """A mango MQTT container with exactly-once, ordered links to its peers (see the module
    docstring) that reconnects by itself and says clearly why a broker refused it.

    As on TCP, a peer reaches no agent through the inbox topic until it has been let in:
    before that, only the join handshake (``before_joining``) is delivered from it. A peer
    is a session of a client: the manager's clock lets a worker's session in when it admits
    its :class:`Hello`, a worker lets its manager's session in on a :class:`Welcome` with
    the token. A message without link fields belongs to no session and is never let in.
    Once let in, a peer keeps its session: a new one under its client id is dropped (a peer
    in a run cannot restart), so a stranger using that name cannot take over its link."""

    #: what a peer may send before it is let in (None: anything)
    before_joining: tuple[type, ...] | None = None
    #: the token a manager's Welcome must carry (a worker's container)
    join_token = ""
    #: called with the error when the container cannot go on (its client id is taken)
    on_broken = None

    def __init__(self, *, login: BrokerLogin | None = None, **kwargs):
        super().__init__(**kwargs)
        self.login = login or BrokerLogin()
        self.host, self.port, self.keepalive = _endpoint(self.broker_addr)
        self.session = secrets.token_hex(8)
        self.channels: dict[str, Channel] = {}
        self.codec.register_message_type(Resume)
        self._ready: asyncio.Future | None = None
        self._first_subscription: int | None = None
        self._online = False
        self._closing = False
        self._connected_at = 0.0
        self._taken_over = 0  # connections in a row that the broker closed soon after
        self._first_lasted: float | None = None  # seconds its first connection lasted
        self._giving_up: asyncio.Task | None = None

    @property
    def broker(self) -> str:
        """The broker's address, HOST:PORT."""
        return f"{self.host}:{self.port}"

    async def flush(self) -> None:
        """Messages are published as they are sent; nothing is held back."""

    async def start(self) -> None:
        """Connect, log in and subscribe the inbox, then start the container; a broker that
        cannot be reached or refuses is an error naming it and the reason."""
        self._loop = asyncio.get_running_loop()
        self._ready = self._loop.create_future()
        self.mqtt_client = self._new_client()
        try:
            await asyncio.to_thread(self.mqtt_client.connect, self.host, self.port, self.keepalive)
        except (OSError, ValueError) as error:
            self.mqtt_client = None
            raise PeerError(
                f"cannot connect to the MQTT broker at {self.broker}: {error}"
            ) from None
        self.mqtt_client.loop_start()
        try:
            await asyncio.wait_for(self._ready, HANDSHAKE_TIMEOUT)
        except TimeoutError:
            await self._stop_client()
            raise PeerError(
                f"the MQTT broker at {self.broker} did not answer the login and the "
                f"subscription within {HANDSHAKE_TIMEOUT:g} s"
            ) from None
        except AssumeError:
            await (self._giving_up or self._stop_client())
            raise
        await Container.start(self)

    async def shutdown(self) -> None:
        self._closing = True
        await Container.shutdown(self)
        await (self._giving_up or self._stop_client())

    async def _stop_client(self) -> None:
        self._closing = True
        client, self.mqtt_client = self.mqtt_client, None
        if client is None:
            return  # stopped already
        client.disconnect()
        await asyncio.to_thread(client.loop_stop)

    def _new_client(self) -> paho.Client:
        client = paho.Client(
            paho.CallbackAPIVersion.VERSION2, client_id=self.client_id, clean_session=True
        )
        login = self.login
        if login.username is not None:
            client.username_pw_set(login.username, login.password)
        if login.tls:
            try:
                client.tls_set(ca_certs=login.ca, certfile=login.cert, keyfile=login.key)
            except (OSError, ValueError) as error:
                raise ConfigurationError(
                    f"cannot set up TLS for the MQTT broker at {self.broker} (CA file: "
                    f"{login.ca or 'the system CAs'}, client certificate: {login.cert or 'none'}, "
                    f"key: {login.key or 'none'}): {error}"
                ) from None
        client.reconnect_delay_set(*RECONNECT_DELAY)
        client.on_socket_open = _no_delay
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        return client

    # --- paho's network thread: hand everything over to the event loop ---------------------

    # (when a connection came and went is taken here: the loop may be busy for a while)
    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        self._to_loop(self._connected, reason_code, time.monotonic())

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self._to_loop(self._disconnected, reason_code, time.monotonic())

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        self._to_loop(self._subscribed, mid, reason_codes)

    def _on_message(self, client, userdata, message) -> None:
        self._to_loop(self._receive, message.topic, message.payload, message.qos, message.retain)
        _ack_now(client)

    def _to_loop(self, callback, *args) -> None:
        # a loop that is already closed has ended the run: nothing is left to do
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(callback, *args)

    # --- the event loop's thread ------------------------------------------------------------

    def _connected(self, reason_code, moment: float) -> None:
        if self._closing:
            return
        if reason_code.is_failure:
            self._refused(reason_code)
            return
        topics = [(self.inbox_topic, 2), *((topic, 2) for topic in self.additional_subscriptions)]
        _, mid = self.mqtt_client.subscribe(topics)
        self._online = True
        self._connected_at = moment
        if not self._ready.done():
            self._first_subscription = mid
            return
        kept = sum(len(channel.kept) for channel in self.channels.values())
        logger.info(
            "reconnected to the MQTT broker at %s; resending %d unacknowledged message(s)",
            self.broker,
            kept,
        )
        # subscribed first: peers answer the Resume only once this inbox receives again
        for peer, channel in self.channels.items():
            self._send_resume(peer, channel)
            self._resend(peer, channel)

    def _refused(self, reason_code) -> None:
        reason = str(reason_code)
        if reason in _LOGIN_REFUSALS:
            error: AssumeError = ConfigurationError(
                f"the MQTT broker at {self.broker} refused the login of {self.client_id}: "
                f"{reason} (check the user name and password: --mqtt-username and "
                "--mqtt-password, MQTT_USERNAME and MQTT_PASSWORD, or distributed.mqtt)"
            )
        else:
            error = PeerError(f"the MQTT broker at {self.broker} refused the connection: {reason}")
        if not self._ready.done():
            self._ready.set_exception(error)
        else:
            logger.error("%s", error)

    def _subscribed(self, mid: int, reason_codes) -> None:
        pending = self.pending_sub_request.get(mid)  # mango's subscribe_for_agent waits on it
        if pending is not None and not pending.done():
            pending.set_result(0)
        if mid != self._first_subscription or self._ready.done():
            return
        refused = [str(code) for code in reason_codes if code.is_failure]
        if refused:
            self._ready.set_exception(
                ConfigurationError(
                    f"the MQTT broker at {self.broker} refused the subscription of "
                    f"{self.client_id} to its inbox topic {self.inbox_topic}: {refused[0]} "
                    "(check the broker's access control list)"
                )
            )
        else:
            self._ready.set_result(None)

    def _disconnected(self, reason_code, moment: float) -> None:
        # paho gives no reason for a lost connection ("Unspecified error")
        if self._closing:
            return
        if not self._online:
            if not self._ready.done():
                # closed before the broker accepted the login (a refused login has failed
                # already): a broker that would not talk at all
                self._ready.set_exception(
                    PeerError(
                        f"the MQTT broker at {self.broker} closed the connection before "
                        f"accepting {self.client_id} ({reason_code}): does it expect TLS "
                        "(--mqtt-tls, --mqtt-ca) or a client certificate (--mqtt-cert, "
                        "--mqtt-key)?"
                    )
                )
            return
        # lost after the login, if before the subscription: paho reconnects, start() waits
        self._online = False
        lasted = moment - self._connected_at
        if self._first_lasted is None:
            self._first_lasted = lasted
        self._taken_over = self._taken_over + 1 if lasted < SHORT_CONNECTION else 0
        if any(channel.joined for channel in self.channels.values()):
            limit = TAKEOVERS[2]
        else:
            limit = TAKEOVERS[self._first_lasted >= NEWCOMER]
        if self._taken_over >= limit:
            self._give_up()
            return
        logger.warning("lost the connection to the MQTT broker at %s; reconnecting", self.broker)

    def _give_up(self) -> None:
        """Stop reconnecting: another process probably holds this container's client id."""
        self._closing = True  # what paho's thread hands over from now on is dropped
        # paho's thread must end: a reconnection already under way would undo a disconnect
        self._giving_up = asyncio.ensure_future(self._stop_client())
        error = PeerError(
            f"the MQTT broker at {self.broker} closed the connection of {self.client_id} "
            f"{self._taken_over} times in a row within {SHORT_CONNECTION:g} s of connecting: "
            "probably another process is connected under the same client id (a second "
            "worker with the same --worker-index, or a second run with the same --run-name "
            "on this broker; every process of a run needs its own), else the broker drops "
            "this client for something it sends (its log says why)"
        )
        if not self._ready.done():
            self._ready.set_exception(error)  # start() raises it
        elif self.on_broken is not None:
            self.on_broken(error)
        else:
            logger.error("%s", error)

    def _receive(self, topic: str, payload: bytes, qos: int, retain: bool) -> None:
        if self._closing:
            return
        try:
            message = self.codec.decode(payload)
        except MalformedMessage as error:
            logger.warning("dropped a malformed message on topic %s: %s", topic, error)
            return
        content, meta = message.split_content_and_meta()
        link = [meta.pop(key, None) for key in ("session", "peer_session", "seq", "ack")]
        inbox = topic == self.inbox_topic
        peer = meta.get("sender_addr")
        if inbox and not self._admit(content, peer, *link):
            return
        # the peer's channel, if the message came on one (link fields of its current session);
        # what comes on a topic an agent subscribed to itself is what it asked for
        channel = self.channels.get(peer) if inbox and link[2] is not None else None
        if inbox and not self._let_through(content, peer, topic, channel):
            return
        meta = {"network_protocol": "mqtt", "topic": topic, "qos": qos, "retain": retain, **meta}
        if channel is not None:
            meta["connection"] = channel  # the manager's clock lets it in (see _admit there)
        receiver = self._agents.get(meta.get("receiver_id")) if inbox else None
        if receiver is not None:
            # straight to the agent, as the container's inbox task would hand it
            hand_to(receiver, content, meta)
        elif self.inbox is not None:
            self.inbox.put_nowait((0, content, meta))
        else:
            logger.warning("dropped a message on topic %s: the container has not started", topic)

    def _let_through(self, content, peer, topic: str, channel: Channel | None) -> bool:
        """Whether a message may reach an agent: it comes from a peer that has been let in,
        or it is part of the join handshake (see the class docstring)."""
        allowed = self.before_joining
        if allowed is None or (channel is not None and channel.joined):
            return True
        if type(content) not in allowed:
            logger.warning(
                "dropped a %s from %s on topic %s: nothing but the join handshake reaches an "
                "agent before its sender is let in",
                type(content).__name__,
                peer,
                topic,
            )
            return False
        if channel is not None and type(content) is Welcome and content.token == self.join_token:
            # the manager answered; what it sends next comes right behind, so let it in now
            # rather than when the clock gets to the Welcome
            channel.joined = True
        return True

    def _admit(self, content, peer, session, peer_session, seq, ack) -> bool:
        """Whether to deliver a message, after its link bookkeeping."""
        resume = isinstance(content, Resume)
        if seq is None and not resume:
            return True
        if session is None or ack is None or not isinstance(peer, str):
            logger.warning(
                "dropped a message on topic %s from %s: incomplete link fields",
                self.inbox_topic,
                peer,
            )
            return False
        channel = self._channel_of(peer, session, peer_session)
        if channel is None:
            return False
        channel.acknowledge(ack)
        if resume:
            self._resend(peer, channel)
            return False
        arrival = channel.accept(seq)
        if arrival is not Arrival.NEXT:
            logger.debug("message %d from %s: %s", seq, peer, arrival.value)
        if arrival is Arrival.EARLY and channel.resend_wanted():
            self._send_resume(peer, channel)
        return arrival is Arrival.NEXT

    def _channel_of(self, peer: str, session: str, peer_session: str | None) -> Channel | None:
        """The channel with ``peer`` for a message from its ``session`` to this container's
        ``peer_session``; None for a message of an earlier session of either side."""
        if peer_session not in (None, self.session):
            logger.debug("dropped a message from %s to an earlier session of this container", peer)
            return None
        channel = self.channels.setdefault(peer, Channel())
        before = channel.peer_session
        if channel.joined and session != before and session not in channel.retired:
            # a peer in the run cannot restart (its state would be lost): a stranger using
            # its name must not start its link afresh under the real peer
            logger.warning(
                "dropped a message from a new session of %s, which is already in the run "
                "(a peer in a run cannot restart; does a second process use its client id, "
                "such as a worker started twice with the same --worker-index?)",
                peer,
            )
            return None
        if not channel.meet(session):
            logger.debug("dropped a message from an earlier session of %s", peer)
            return None
        if before not in (None, session):
            logger.info("%s restarted: its link starts afresh", peer)
        return channel

    async def _send_external_message(self, *, topic, message, qos=0, retain=False) -> bool:
        if self.mqtt_client is None:
            return False  # given up or shut down: nothing goes out any more
        channel = self.channels.setdefault(topic, Channel())
        if isinstance(message, MangoMessage):
            message.meta.update(self._link_fields(channel), seq=channel.sent + 1)
            payload = self.codec.encode(message)
            channel.keep(payload)
        else:
            # an ACLMessage has no meta for the link fields: it goes as it is, once
            payload = self.codec.encode(message)
        self.mqtt_client.publish(topic, payload, qos, retain)
        return True

    def _link_fields(self, channel: Channel) -> dict:
        return {
            "session": self.session,
            "peer_session": channel.peer_session,
            "ack": channel.received,
        }

    def _send_resume(self, peer: str, channel: Channel) -> None:
        meta = {"sender_addr": self.inbox_topic, **self._link_fields(channel)}
        self.mqtt_client.publish(peer, self.codec.encode(MangoMessage(Resume(), meta)))

    def _resend(self, peer: str, channel: Channel) -> None:
        for payload in channel.unacknowledged():
            self.mqtt_client.publish(peer, payload)


def _endpoint(broker) -> tuple[str, int, int]:
    """(host, port, keepalive) of a broker given as HOST or (HOST, PORT[, KEEPALIVE])."""
    parts = (broker,) if isinstance(broker, str) else tuple(broker)
    if not (
        1 <= len(parts) <= 3
        and isinstance(parts[0], str)
        and all(type(part) is int for part in parts[1:])
    ):
        raise ValueError(f"broker {broker!r}: expected HOST or (HOST, PORT[, KEEPALIVE])")
    host, port, keepalive = parts + (1883, 60)[len(parts) - 1 :]
    return host, port, keepalive


_QUICKACK = getattr(socket, "TCP_QUICKACK", None)  # Linux only


def _ack_now(client) -> None:
    """Acknowledge what the broker sent at once (Linux), instead of up to 40 ms later.

    A broker that does not set TCP_NODELAY (mosquitto's default) holds a small message back
    until the client has acknowledged the previous one, and a client acknowledges late when
    it has nothing to send back: every message behind another in the same step waited for
    that, about 90 ms per clock step. Called in paho's network thread, after each read."""
    sock = client.socket()
    if sock is not None and _QUICKACK is not None:
        with contextlib.suppress(OSError):  # closed meanwhile: paho reconnects
            sock.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)


def _no_delay(client, userdata, sock) -> None:
    # small messages must not wait for Nagle's algorithm (40 ms delayed ACKs per step)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
