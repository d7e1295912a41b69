"""A mango container for one-process simulations: in-process delivery only, no socket."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import deque
from typing import Any

from mango import Role, RoleAgent
from mango.agent.conversation import CONVERSATION_ID_KEY
from mango.agent.core import Agent
from mango.container.core import Container
from mango.express.topology import TopologyService
from mango.messages.codecs import JSON
from mango.messages.message import AgentAddress
from mango.util import tracing

from assume.messaging import condition_in

logger = logging.getLogger(__name__)


class LocalContainer(Container):
    """Delivers messages between the agents it holds, without copying or encoding them.

    Messages wait in one queue for the whole container, in the order they were sent, and one
    loop callback hands them to their agents' handlers. mango would put each into its agent's
    inbox and wake that agent's inbox task, which costs a task step per message; a year of a
    thousand plants sends millions. The order in which handlers run is the same: the order
    of sending.

    mango's own dispatch of a message to a role agent looks for forwarding rules, tracked
    replies, conversations, topology health and per-agent handlers before it reaches the
    roles' subscriptions, at several calls per message. For an agent that uses none of these
    (every agent of a simulation) the container calls the subscriptions directly
    (:meth:`_route`), which is about a tenth of a one-process run; any other agent or message
    goes through mango."""

    def __init__(self, clock, name: str = "world"):
        super().__init__(addr=name, name=name, codec=JSON(), clock=clock)
        self._mail: deque[tuple[Any, Any, dict]] = deque()
        self._draining = False
        # agent -> (its _shape when routed, the route)
        self._routes: dict[Any, tuple[tuple | None, tuple | None]] = {}

    async def send_message(
        self, content: Any, receiver_addr: AgentAddress, sender_id: str | None = None, **kwargs
    ) -> bool:
        return self.deliver(content, receiver_addr, sender_id, **kwargs)

    def deliver(
        self, content: Any, receiver_addr: AgentAddress, sender_id: str | None, **meta
    ) -> bool:
        """Queue a message for its receiver (the synchronous form of send_message)."""
        aid = receiver_addr.aid
        meta["sender_id"], meta["sender_addr"], meta["receiver_id"] = sender_id, self.addr, aid
        receiver = self._agents.get(aid)
        if receiver is None or self._copy_internal_messages or _enveloped(type(content)):
            return self._send_internal_message(content, aid, default_meta=meta)
        meta["priority"] = 0
        self._mail.append((receiver, content, meta))
        if not self._draining:
            self._draining = True
            asyncio.get_running_loop().call_soon(self._drain)
        return True

    def _drain(self) -> None:
        """Hand every queued message to its agent, including those its handlers send."""
        mail = self._mail
        routes = self._routes
        while mail:
            receiver, content, meta = mail.popleft()
            try:
                shape = _shape(receiver)
                known = routes.get(receiver)
                if known is None or known[0] != shape:
                    known = self._route(receiver, shape)
                route = known[1]
                if (
                    route is None
                    or receiver._forwarding_rules
                    or "tracking_id" in meta
                    or CONVERSATION_ID_KEY in meta
                ):
                    receiver._dispatch_message(content, meta)
                    continue
                active = receiver._role_handler._role_to_active
                for role, accepts, handler in route:
                    if active.get(role, True) and (accepts is None or accepts(content, meta)):
                        handler(content, meta)
            except Exception:  # what an agent's inbox task would log; the others go on
                logger.exception("agent %s failed on a %s", receiver.aid, type(content).__name__)
        self._draining = False

    def _route(self, agent, shape: tuple | None) -> tuple[tuple | None, tuple | None]:
        """What mango's dispatch would do with a message to ``agent``, if no more than call
        its roles' subscriptions: their (role, condition, handler), else None (mango
        dispatches). Kept while the agent's :func:`_shape` stays the same."""
        route = None
        if (
            shape is not None
            and isinstance(agent, RoleAgent)
            and type(agent)._dispatch_message is Agent._dispatch_message
            and type(agent).handle_message is RoleAgent.handle_message
            and not agent._behavior_message_subs
            and agent._dispatches_to_handle_message
            and not tracing.is_tracing()
            and not shape[-1]  # no topology with edge health
            # mango calls every role's handle_message unless a subscription is named so
            and all(type(r).handle_message is Role.handle_message for r in agent.roles)
            and all(
                preprocessor is None and getattr(method, "__name__", "") != "handle_message"
                for _, _, method, _, preprocessor in agent._role_handler._message_subs
            )
        ):
            # a condition the handler checks itself is not called (None)
            route = tuple(
                (role, None if condition_in(method, accepts) else accepts, method)
                for role, accepts, method, _, _ in agent._role_handler._message_subs
            )
        known = self._routes[agent] = (shape, route)
        return known


@functools.cache
def _enveloped(kind: type) -> bool:
    """Whether messages of ``kind`` are mango envelopes (ACL messages), which mango's own
    internal delivery takes apart."""
    return hasattr(kind, "split_content_and_meta")


def _shape(agent) -> tuple | None:
    """What decides whether mango's dispatch of a message to ``agent`` does more than call
    its roles' subscriptions (see LocalContainer._route); None for agents without roles."""
    try:  # (once per message: plain attribute access, as for every agent of a simulation)
        handler = agent._role_handler
        subscriptions = handler._message_subs
        services = agent.context._services
    except AttributeError:
        handler = getattr(agent, "_role_handler", None)
        subscriptions = getattr(handler, "_message_subs", None)
        services = getattr(getattr(agent, "context", None), "_services", {})
    if type(subscriptions) is not list:
        return None
    topology = services.get(TopologyService)
    return (
        id(subscriptions),
        len(subscriptions),
        len(handler._roles),
        len(agent._behavior_message_subs),
        tracing._categories is not None,  # tracing.is_tracing(), without the call
        False if topology is None else bool(topology._tid_to_health),
    )
