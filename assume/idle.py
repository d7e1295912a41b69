"""When is a process idle? The test that ends every simulation step.

A container is idle when nothing in its process can run before new input arrives from
outside (a frame from another process, the clock moving on): no agent has a message it has
not finished handling, every task scheduled on an agent is done or sleeping until a later
simulation time, and the event loop has no callback ready to run.

mango's ``tasks_complete_or_sleeping`` answers the same question by awaiting every
scheduled task's state with ``asyncio.wait``, at least one loop turn per task and call.
Reading the loop's ready queue instead costs one loop turn per call when the process is
already idle, which is most of the cost of a distributed clock step. The ready queue is
what makes the answer exact: a task whose sleep the clock has just ended still looks
asleep, but the callback that resumes it is in the queue.
"""

from __future__ import annotations

import asyncio
import logging
import weakref

from mango.util.termination_detection import tasks_complete_or_sleeping

logger = logging.getLogger(__name__)


def _agents_idle(container) -> bool:
    inbox = container.inbox
    if inbox is not None and inbox._unfinished_tasks:
        return False
    for agent in container._agents.values():
        if agent.inbox._unfinished_tasks:
            return False
        scheduler = agent.scheduler
        for scheduled, _, _, source in (
            *scheduler._scheduled_tasks,
            *scheduler._scheduled_process_tasks,
        ):
            if source == "no_wait" or not getattr(scheduled, "_is_observable", False):
                continue
            if not (scheduled._is_sleeping.done() or scheduled._is_done.done()):
                return False
    return True


class _Poller:
    """Turns the event loop until it has nothing ready, then releases the waiters whose
    containers are idle. One per event loop: two coroutines each waiting for an empty ready
    queue would each keep the other's wake-up in it forever."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self.ready = loop._ready
        self.waiters: list[tuple[object, asyncio.Future]] = []
        self.task: asyncio.Task | None = None

    def wait(self, container) -> asyncio.Future:
        future = self.loop.create_future()
        self.waiters.append((container, future))
        if self.task is None or self.task.done():
            self.task = self.loop.create_task(self._run())
        return future

    async def _run(self) -> None:
        while self.waiters:
            # one turn: everything queued before this task resumes runs first
            await asyncio.sleep(0)
            if self.ready:
                continue
            busy = []
            for container, future in self.waiters:
                if future.done():
                    continue
                if _agents_idle(container):
                    future.set_result(None)
                else:
                    busy.append((container, future))
            self.waiters = busy
            if busy:
                # a task waits for something other than this loop's callbacks (a socket,
                # say): let mango's check block on it instead of spinning
                await tasks_complete_or_sleeping(busy[0][0])


_POLLERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


async def until_idle(container) -> None:
    """Return once ``container``'s process is idle (see the module docstring)."""
    loop = asyncio.get_running_loop()
    if not hasattr(loop, "_ready"):  # an event loop without asyncio's ready queue
        await tasks_complete_or_sleeping(container)
        return
    if not loop._ready and _agents_idle(container):
        return  # nothing queued and nothing running: idle already, no loop turn needed
    poller = _POLLERS.get(loop)
    if poller is None:
        poller = _POLLERS[loop] = _Poller(loop)
    await poller.wait(container)


def hand_to(agent, content, meta: dict) -> None:
    """Give a message that came from another process to ``agent``: into its inbox, as mango's
    container does, or, for an agent whose class sets ``handles_on_arrival`` (a clock
    agent, whose handling is short and schedules what takes longer), to its dispatch at
    once. That saves the inbox task's wake-up, a loop turn per message, where a clock step
    costs a few; a message behind others in the inbox still waits its turn."""
    if getattr(agent, "handles_on_arrival", False) and not agent.inbox.qsize():
        meta["priority"] = 0
        try:
            agent._dispatch_message(content, meta)
        except Exception:  # as the inbox task would log it; the connection goes on
            logger.exception("agent %s failed on a %s", agent.aid, type(content).__name__)
    else:
        agent.inbox.put_nowait((0, content, meta))
