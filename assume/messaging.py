"""How roles send messages.

In one process the container delivers a message straight into the receiver's inbox, so a
role hands it over synchronously (``post``); with a network container the send is a task
scheduled on the agent, as mango does it.
"""

from __future__ import annotations

from collections.abc import Callable

from mango import Role


class MessengerRole(Role):
    """A role with :meth:`send`; the world sets ``post`` where delivery is in-process."""

    post: Callable | None = None

    def send(self, content, receiver) -> None:
        if self.post is not None:
            self.post(content, receiver, self.context.aid)
        else:
            self.context.schedule_instant_message(content, receiver)
