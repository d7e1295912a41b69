"""A mango container for one-process simulations: in-process delivery only, no socket."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any

from mango.container.core import Container
from mango.messages.codecs import JSON
from mango.messages.message import AgentAddress

logger = logging.getLogger(__name__)


class LocalContainer(Container):
    """Delivers messages between the agents it holds, without copying or encoding them.

    Messages wait in one queue for the whole container, in the order they were sent, and one
    loop callback hands them to their agents' handlers. mango would put each into its agent's
    inbox and wake that agent's inbox task, which costs a task step per message; a year of a
    thousand plants sends millions. The order in which handlers run is the same: the order
    of sending."""

    def __init__(self, clock, name: str = "world"):
        super().__init__(addr=name, name=name, codec=JSON(), clock=clock)
        self._mail: deque[tuple[Any, Any, dict]] = deque()
        self._draining = False

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
        while mail:
            receiver, content, meta = mail.popleft()
            try:
                receiver._dispatch_message(content, meta)
            except Exception:  # what an agent's inbox task would log; the others go on
                logger.exception("agent %s failed on a %s", receiver.aid, type(content).__name__)
        self._draining = False
