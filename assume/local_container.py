"""A mango container for one-process simulations: in-process delivery only, no socket."""

from __future__ import annotations

import asyncio
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
        # agent -> (its subscription list, the list's length when routed, the route)
        self._routes: dict[Any, tuple[list, int, tuple | None]] = {}

    async def send_message(
        self, content: Any, receiver_addr: AgentAddress, sender_id: str | None = None, **kwargs
    ) -> bool:
        return self.deliver(content, receiver_addr, sender_id, **kwargs)

    def deliver(
        self, content: Any, receiver_addr: AgentAddress, sender_id: str | None, **meta
    ) -> bool:
        """Queue a message for its receiver (the synchronous form of send_message)."""
        meta.update(sender_id=sender_id, sender_addr=self.addr, receiver_id=receiver_addr.aid)
        receiver = self._agents.get(receiver_addr.aid)
        if (
            receiver is None
            or self._copy_internal_messages
            or hasattr(content, "split_content_and_meta")
        ):
            return self._send_internal_message(content, receiver_addr.aid, default_meta=meta)
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
                subscriptions = _subscriptions(receiver)
                known = routes.get(receiver)
                if (
                    known is None
                    or known[0] is not subscriptions
                    or known[1] != len(subscriptions or ())
                ):
                    known = self._route(receiver)
                route = known[2]
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
                    if active.get(role, True) and accepts(content, meta):
                        handler(content, meta)
            except Exception:  # what an agent's inbox task would log; the others go on
                logger.exception("agent %s failed on a %s", receiver.aid, type(content).__name__)
        self._draining = False

    def _route(self, agent) -> tuple[list, int, tuple | None]:
        """What mango's dispatch would do with a message to ``agent``, if no more than call
        its roles' subscriptions: their (role, condition, handler), else None (mango
        dispatches). Kept until the agent's subscriptions change."""
        route = None
        subscriptions = _subscriptions(agent)
        topology = getattr(agent, "_services", {}).get(TopologyService)
        if (
            isinstance(agent, RoleAgent)
            and type(agent)._dispatch_message is Agent._dispatch_message
            and type(agent).handle_message is RoleAgent.handle_message
            and isinstance(subscriptions, list)
            and not agent._behavior_message_subs
            and agent._dispatches_to_handle_message
            and not tracing.is_tracing()
            and (topology is None or not topology._tid_to_health)
            # mango calls every role's handle_message unless a subscription is named so
            and all(type(r).handle_message is Role.handle_message for r in agent.roles)
            and all(
                preprocessor is None and getattr(method, "__name__", "") != "handle_message"
                for _, _, method, _, preprocessor in subscriptions
            )
        ):
            route = tuple((role, accepts, method) for role, accepts, method, _, _ in subscriptions)
        known = self._routes[agent] = (subscriptions, len(subscriptions or ()), route)
        return known


def _subscriptions(agent) -> list | None:
    """A role agent's list of message subscriptions (mango's RoleHandler._message_subs)."""
    return getattr(getattr(agent, "_role_handler", None), "_message_subs", None)
