"""A mango container for one-process simulations: in-process delivery only, no socket."""

from __future__ import annotations

from typing import Any

from mango.container.core import Container
from mango.messages.codecs import JSON
from mango.messages.message import AgentAddress


class LocalContainer(Container):
    """Delivers messages between the agents it holds, without copying or encoding them."""

    def __init__(self, clock, name: str = "world"):
        super().__init__(addr=name, name=name, codec=JSON(), clock=clock)

    async def send_message(
        self, content: Any, receiver_addr: AgentAddress, sender_id: str | None = None, **kwargs
    ) -> bool:
        return self.deliver(content, receiver_addr, sender_id, **kwargs)

    def deliver(
        self, content: Any, receiver_addr: AgentAddress, sender_id: str | None, **meta
    ) -> bool:
        """Put a message into the receiver's inbox now (the synchronous form of send_message)."""
        meta.update(sender_id=sender_id, sender_addr=self.addr, receiver_id=receiver_addr.aid)
        receiver = self._agents.get(receiver_addr.aid)
        if (
            receiver is None
            or self._copy_internal_messages
            or hasattr(content, "split_content_and_meta")
        ):
            return self._send_internal_message(content, receiver_addr.aid, default_meta=meta)
        # what _send_internal_message does for a plain message to an agent of this container
        receiver.inbox.put_nowait((0, content, meta))
        return True
