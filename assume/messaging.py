"""How roles send and receive messages.

Every role of a simulation is bound to a :class:`Link` of its process: how to deliver
(in one process the container puts a message straight into the receiver's inbox; with a
network container the send is a task scheduled on the agent, one after the other so that
messages between two agents keep their order), a counter of simulation messages sent and
handled (the distributed clock ends a step only when the totals agree), and where to report
errors.

Handlers are guarded: an exception in a handler must not kill the agent's inbox loop
(which would leave the simulation waiting forever), so it is logged and reported through
``Link.on_failure``, and the world stops the run with that error.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from mango import Role

logger = logging.getLogger(__name__)


def _peer(address):
    return tuple(address) if isinstance(address, list) else address


@dataclass
class MessageCounter:
    """Simulation messages sent and handled in one container, in total and per other
    container (by protocol address); ``local_addr`` is this container's own address."""

    local_addr: object = None
    sent: int = 0
    received: int = 0
    sent_to: dict = field(default_factory=dict)
    received_from: dict = field(default_factory=dict)

    def count_sent(self, receiver_addr) -> None:
        self.sent += 1
        if receiver_addr != self.local_addr:  # within this container: nothing to look up
            peer = _peer(receiver_addr)
            if peer != self.local_addr:
                self.sent_to[peer] = self.sent_to.get(peer, 0) + 1

    def count_received(self, sender_addr) -> None:
        self.received += 1
        if sender_addr != self.local_addr:  # within this container: nothing to look up
            peer = _peer(sender_addr)
            if peer is not None and peer != self.local_addr:
                self.received_from[peer] = self.received_from.get(peer, 0) + 1

    @property
    def remote_sent(self) -> int:
        return sum(self.sent_to.values())

    @property
    def remote_received(self) -> int:
        return sum(self.received_from.values())

    @property
    def local_balanced(self) -> bool:
        """Every message sent within this container has been handled."""
        return self.sent - self.remote_sent == self.received - self.remote_received


@dataclass
class Link:
    """What the roles of one container share: delivery, message counts, error reporting."""

    post: Callable | None = None
    counter: MessageCounter = field(default_factory=MessageCounter)
    failures: list[BaseException] = field(default_factory=list)

    def on_failure(self, error: BaseException) -> None:
        self.failures.append(error)


class MessengerRole(Role):
    """A role with :meth:`send` and :meth:`on`, bound to its container's :class:`Link`."""

    link: Link = Link()

    def __init__(self):
        super().__init__()
        self._handlers: list[tuple[type, Callable]] = []
        self._handlers_by_type: dict[type, tuple[Callable, ...]] = {}
        self._sender: tuple = (None, None)  # (context, its agent's id), see send

    def send(self, content, receiver) -> None:
        link = self.link
        link.counter.count_sent(receiver.protocol_addr)
        if link.post is not None:
            context = self._context  # (mango's Role.context, without the property)
            sender = self._sender
            if sender[0] is not context:  # the agent's id, looked up once per context
                sender = self._sender = (context, context.aid)
            link.post(content, receiver, sender[1])
        else:
            self.context.schedule_instant_message(content, receiver)

    def on(self, message_type: type, handler: Callable) -> None:
        """Call ``handler(content, meta)`` for every message of ``message_type``."""
        if not self._handlers:
            # one subscription per role, dispatching by type: mango tests every subscription
            # of an agent against every message it receives
            self.context.subscribe_message(self, self._dispatch, self._accepts)
        self._handlers.append((message_type, handler))
        self._handlers_by_type.clear()

    def _handlers_for(self, content) -> tuple[Callable, ...]:
        kind = type(content)
        handlers = self._handlers_by_type.get(kind)
        if handlers is None:
            handlers = tuple(h for t, h in self._handlers if issubclass(kind, t))
            self._handlers_by_type[kind] = handlers
        return handlers

    def _accepts(self, content, meta: dict) -> bool:
        return bool(self._handlers_for(content))

    def _dispatch(self, content, meta: dict) -> None:
        handlers = self._handlers_for(content)
        if not handlers:  # what _accepts says: so a caller may skip it (see condition_in)
            return
        # a message counts as handled once, however many roles of the agent take it (every
        # role of a market operator gets the clock's messages)
        if "assume_counted" not in meta:
            meta["assume_counted"] = True
            self.link.counter.count_received(meta.get("sender_addr"))
        for handler in handlers:
            try:
                handler(content, meta)
            except Exception as error:
                self._fail(handler, error)

    def guarded(self, function: Callable) -> Callable:
        """Wrap a handler or coroutine function so that its errors reach the link."""
        if inspect.iscoroutinefunction(function):

            @functools.wraps(function)
            async def run_async(*args, **kwargs):
                try:
                    return await function(*args, **kwargs)
                except Exception as error:
                    self._fail(function, error)

            return run_async

        @functools.wraps(function)
        def run(*args, **kwargs):
            try:
                return function(*args, **kwargs)
            except Exception as error:
                self._fail(function, error)

        return run

    def _fail(self, function: Callable, error: Exception) -> None:
        logger.exception("%s failed in %s", type(self).__name__, function.__name__)
        self.link.on_failure(error)


def condition_in(handler: Callable, condition: Callable) -> bool:
    """Whether calling the subscription ``handler`` alone does what calling it only when
    ``condition`` holds does: a MessengerRole's dispatch with the base class's condition."""
    role = getattr(handler, "__self__", None)
    return (
        isinstance(role, MessengerRole)
        and getattr(handler, "__func__", None) is MessengerRole._dispatch
        and getattr(condition, "__self__", None) is role
        and getattr(condition, "__func__", None) is MessengerRole._accepts
    )
