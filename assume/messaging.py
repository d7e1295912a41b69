"""How roles send and receive messages.

In one process the container delivers a message straight into the receiver's inbox, so a
role hands it over synchronously (``post``); with a network container the send is a task
scheduled on the agent, as mango does it.

Handlers are guarded: an exception in a handler must not kill the agent's inbox loop
(which would leave the simulation waiting forever), so it is logged and reported through
``on_failure``, and the world stops the run with that error.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

from mango import Role

logger = logging.getLogger(__name__)


class MessengerRole(Role):
    """A role with :meth:`send` and :meth:`on`; the world sets ``post`` where delivery is
    in-process and ``on_failure`` to learn about errors in handlers."""

    post: Callable | None = None
    on_failure: Callable[[BaseException], None] | None = None

    def send(self, content, receiver) -> None:
        if self.post is not None:
            self.post(content, receiver, self.context.aid)
        else:
            self.context.schedule_instant_message(content, receiver)

    def on(self, message_type: type, handler: Callable) -> None:
        """Call ``handler(content, meta)`` for every message of ``message_type``."""
        self.context.subscribe_message(
            self, self.guarded(handler), lambda content, meta: isinstance(content, message_type)
        )

    def guarded(self, function: Callable) -> Callable:
        """Wrap a handler or coroutine function so that its errors reach ``on_failure``."""
        if _is_coroutine_function(function):

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
        if self.on_failure is not None:
            self.on_failure(error)


def _is_coroutine_function(function: Callable) -> bool:
    import inspect

    return inspect.iscoroutinefunction(function)
