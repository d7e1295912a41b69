"""The distributed clock: exact ends of simulation steps across containers.

The manager's :class:`ManagerClock` moves every worker's clock (:class:`WorkerClock`) to the
next event and then asks all of them, in rounds, for their state once they are idle: the
simulation messages each container has sent and handled, and its next scheduled event. A
step is over when every container is idle and the global totals of sent and handled
messages are equal and unchanged since the previous round; nothing can then be on the wire.
Both build on mango's DistributedClockManager / DistributedClockAgent.
"""

from __future__ import annotations

import asyncio
import logging

from mango import DistributedClockAgent, DistributedClockManager, sender_addr

from assume.distributed.protocol import (
    ClockQuery,
    ClockSet,
    ClockStatus,
    ClockStop,
    Heartbeat,
    Hello,
    Refused,
    Welcome,
)
from assume.distributed.settings import address_text
from assume.errors import PeerError, SimulationError
from assume.idle import until_idle
from assume.messaging import Link

logger = logging.getLogger(__name__)


async def flush(agent) -> None:
    """Write what the agent's container keeps for its peers (see GuardedTCPContainer)."""
    await agent.context._container.flush()


class ManagerClock(DistributedClockManager):
    """Admits the workers and ends each step exactly (see the module docstring)."""

    handles_on_arrival = True  # see assume.idle.hand_to

    def __init__(self, workers: int, link: Link, token: str = "", scenario: str = ""):
        super().__init__(receiver_clock_addresses=[])
        self.expected = workers
        self.link = link
        self.token = token
        self.scenario = scenario
        self.members: dict[int, object] = {}  # worker index -> clock agent address
        self.operators: dict[int, list[str]] = {}
        # workers known to be gone (their process ended), or that stopped answering
        self.gone: dict[int, object] = {}
        self.silent: set[int] = set()  # ... of those, the ones that stopped answering
        # whether a worker whose connection closes is gone (not where something else watches
        # the workers, as -p watches its processes, which also tells how one ended)
        self.watch_connections = True
        self.all_joined = asyncio.get_event_loop().create_future()
        # fails when a peer is known to be gone, which ends any wait for workers at once
        self.lost = asyncio.get_event_loop().create_future()
        self.round = 0
        self.answers: dict[int, ClockStatus] = {}
        self.answered = asyncio.get_event_loop().create_future()

    def on_ready(self) -> None:
        """Workers announce themselves; unlike mango's manager, no polling for them here."""

    def handle_message(self, content, meta) -> None:
        if isinstance(content, Hello):
            self._admit(content, sender_addr(meta), meta.get("connection"))
        elif isinstance(content, ClockStatus):
            if content.round == self.round and content.worker in self.members:
                self.answers[content.worker] = content
                if len(self.answers) == len(self.members):
                    if not self.answered.done():
                        self.answered.set_result(True)
        else:
            logger.warning(
                "clock manager: dropped unexpected %s from %s",
                type(content).__name__,
                meta.get("sender_addr"),
            )

    def _admit(self, hello: Hello, address, connection=None) -> None:
        reason = ""
        if self.token and hello.token != self.token:
            reason = "wrong or missing token"
        elif not 0 <= hello.worker < self.expected:
            reason = f"worker index {hello.worker} outside 0..{self.expected - 1}"
        elif self.scenario and hello.scenario != self.scenario:
            reason = f"worker runs scenario {hello.scenario!r}, the manager {self.scenario!r}"
        elif hello.worker in self.members and self.members[hello.worker] != address:
            reason = f"worker index {hello.worker} is already taken by {self.members[hello.worker]}"
        if reason:
            logger.error("refused worker %s at %s: %s", hello.worker, address, reason)
            asyncio.ensure_future(self._send_now(Refused(hello.worker, reason), address))
            return
        if connection is not None:
            connection.joined = True  # what comes on this connection from now on is let in
            if self.watch_connections:
                connection.on_lost = lambda: self._connection_lost(hello.worker, address)
        if hello.worker not in self.members:
            logger.info("worker %d joined from %s", hello.worker, address)
        self.members[hello.worker] = address
        self.operators[hello.worker] = list(hello.operators)
        asyncio.ensure_future(self._send_now(Welcome(hello.worker, self.token), address))
        if len(self.members) == self.expected and not self.all_joined.done():
            self.all_joined.set_result(True)

    def start_heartbeat(self, interval: float) -> None:
        """Tell the workers every ``interval`` seconds that the manager is alive."""

        async def beat():
            while True:
                # poll: a fixed heartbeat period is the point of a heartbeat
                await asyncio.sleep(interval)
                if self.members:
                    await self._broadcast(Heartbeat(self.scheduler.clock.time), answer=False)
                    await flush(self)

        self.heartbeat = asyncio.ensure_future(beat())

    def peer_gone(self, reason: str, worker: int | None = None) -> None:
        """A worker is known to be gone (its process ended with an error): stop waiting. The
        others go on to the end of the run (see :meth:`forget_lost`)."""
        if worker is not None and worker in self.gone:
            # it stopped answering before: the run stops for that already (and the others'
            # last reports are still to be collected)
            logger.info("%s", reason)
            return
        if worker is not None and worker in self.members:
            self._leave(worker)
        if not self.lost.done():
            self.lost.set_exception(PeerError(reason))
        elif not self.lost.cancelled():  # (cancelled: the run is over, workers may end)
            logger.error("%s", reason)  # the run stops for an earlier reason: say this too

    def _connection_lost(self, worker: int, address) -> None:
        """The connection ``worker`` joined on has closed: until the run is over, the worker
        is gone (the system closes a process's connections when it ends, however it ends)."""
        if self.members.get(worker) != address or self.lost.cancelled():
            return  # it has left or been replaced, or the run is over (see stop)
        # (a run already stopping for another peer still stops waiting for this one)
        self.peer_gone(
            f"worker {worker} (at {address_text(address.protocol_addr)}) closed its connection "
            "to the manager after joining: its process ended (its log says why) or its host "
            "went away",
            worker,
        )

    def _leave(self, worker: int) -> None:
        """Count ``worker`` out of the run, and what is still kept for it out of the next
        write (its host may be gone: opening a connection would wait for nothing)."""
        address = self.gone[worker] = self.members.pop(worker)
        forget = getattr(self.context._container, "forget", None)
        if forget is not None:
            forget(address.protocol_addr)

    def _raise_if_lost(self) -> None:
        """Raise the error of a worker known to be gone; checked after every wait of a step,
        since a worker may end (and leave the members) at any moment."""
        if self.lost.done() and not self.lost.cancelled():
            raise self.lost.exception()

    def forget_lost(self) -> None:
        """The loss of a worker has stopped the run: from now on wait for the others only
        (so that their last reports are written), until one of them is lost as well."""
        if self.lost.done():
            if not self.lost.cancelled():
                self.lost.exception()  # reported already, as the run's error
            self.lost = asyncio.get_running_loop().create_future()

    async def _unless_lost(self, future: asyncio.Future, timeout: float) -> bool:
        """Wait for ``future`` at most ``timeout`` seconds; False if the time ran out. Raises
        the error of a peer known to be gone."""
        await asyncio.wait(
            {future, self.lost}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
        if self.lost.done() and not self.lost.cancelled():
            raise self.lost.exception()
        return future.done()

    async def wait_for_workers(self, timeout: float) -> None:
        """Wait until every expected worker has joined, at most ``timeout`` seconds."""
        if not await self._unless_lost(self.all_joined, timeout):
            missing = sorted(set(range(self.expected)) - set(self.members))
            raise PeerError(
                f"waited {timeout:g} s for {self.expected} worker(s); worker(s) "
                f"{', '.join(map(str, missing))} did not join (check that they run, reach the "
                "manager's address and use the same token and scenario)"
            ) from None

    async def _send_now(self, message, address) -> None:
        await self.send_message(message, address)
        await flush(self)

    async def _broadcast(self, message, answer: bool = True) -> None:
        if answer:
            self.answers = {}
            self.answered = asyncio.get_running_loop().create_future()
        container = self.context._container
        if getattr(container, "batching", False):
            for address in self.members.values():
                # the codec serialises the message once for all of them
                container.post(message, address, self.aid)
        else:
            for address in self.members.values():
                await self.send_message(message, address)
        if answer:
            # everything sent to the workers in this step goes out with the question
            await flush(self)

    async def _collect(self, timeout: float) -> list[ClockStatus]:
        self._raise_if_lost()  # also when no worker is left to ask
        if self.members and not self.answered.done():
            if not await self._unless_lost(self.answered, timeout):
                silent = sorted(set(self.members) - set(self.answers))
                for worker in silent:  # the others go on to the end of the run
                    self._leave(worker)
                    self.silent.add(worker)
                raise PeerError(
                    f"worker(s) {', '.join(map(str, silent))} did not answer the clock within "
                    f"{timeout:g} s (gone, unreachable, or still busy: a worker answers once its "
                    "units have bid, so --peer-timeout must exceed the longest step)"
                ) from None
        return list(self.answers.values())

    async def settle(self, timeout: float, moment: float | None = None) -> float | None:
        """Move every clock to ``moment`` (if given), wait until the step is over everywhere
        and return the next scheduled event of the whole simulation (None if there is none).

        The workers' clocks are set before the manager's own: messages of the new step go
        over the same ordered connection after the ClockSet, so no worker sees them early.

        Workers only talk to the manager, over reliable ordered connections. So once every
        container has been idle when it answered, each worker has handled exactly what the
        manager sent it, and the manager (idle too) exactly what the worker sent, no message
        is left anywhere: one round suffices. Counts that stay unbalanced over two rounds
        mean a message was lost, which stops the run."""
        container = self.context._container
        if moment is not None:
            await self._broadcast(ClockSet(moment, self.round), answer=False)
            self.scheduler.clock.set_time(moment)
        previous = None
        while True:
            # the query goes out after what the manager sent in this step, so an answer
            # covers all of it
            await until_idle(container)
            self.round += 1
            await self._broadcast(ClockQuery(self.round))
            statuses = await self._collect(timeout)
            await until_idle(container)
            self._raise_if_lost()
            # the answers of workers still in the run (one may have ended since it answered)
            statuses = [s for s in statuses if s.worker in self.members]
            failures = [f"worker {s.worker}: {f}" for s in statuses for f in s.failures]
            if failures:
                raise SimulationError("an agent failed on " + "; ".join(failures))
            unbalanced = self._unbalanced(statuses)
            if not unbalanced:
                break
            if unbalanced == previous:
                raise PeerError(
                    "simulation messages were lost: "
                    + "; ".join(unbalanced)
                    + " (a malformed message dropped by the transport is logged as a warning)"
                )
            previous = unbalanced
        events = [s.next_event for s in statuses if s.next_event is not None]
        local = self.scheduler.clock.get_next_activity()
        if local is not None:
            events.append(local)
        return min(events) if events else None

    def _unbalanced(self, statuses: list[ClockStatus]) -> list[str]:
        """Descriptions of every count that does not balance (empty when the step is over)."""
        counter = self.link.counter
        problems = []
        if not counter.local_balanced:
            problems.append(f"manager: {counter.sent} sent, {counter.received} handled")
        for status in sorted(statuses, key=lambda s: s.worker):
            address = self.members[status.worker].protocol_addr
            sent_to = counter.sent_to.get(address, 0)
            received_from = counter.received_from.get(address, 0)
            if status.received_remote != sent_to or status.sent_remote != received_from:
                problems.append(
                    f"worker {status.worker}: handled {status.received_remote} of {sent_to} "
                    f"from the manager, the manager {received_from} of {status.sent_remote}"
                )
            if not status.local_balanced:
                problems.append(f"worker {status.worker}: its own messages are not all handled")
        return problems

    async def stop(self, reason: str = "") -> None:
        if not self.lost.done():
            self.lost.cancel()  # workers ending from now on are expected to
        elif not self.lost.cancelled():
            self.lost.exception()  # reported already, as the run's error
        heartbeat = getattr(self, "heartbeat", None)
        if heartbeat is not None:
            heartbeat.cancel()
        try:
            await self._broadcast(ClockStop(reason), answer=False)
            # a worker that stopped answering may only be slow: tell it too (one whose
            # process ended cannot be told)
            for worker in sorted(self.silent):
                await self.send_message(ClockStop(reason), self.gone[worker])
            await flush(self)
        except Exception:
            logger.exception("could not tell the workers to stop")


class WorkerClock(DistributedClockAgent):
    """A worker's clock: announces the worker, follows the manager's time, reports status."""

    handles_on_arrival = True  # see assume.idle.hand_to

    def __init__(
        self,
        manager,
        worker: int,
        operators: list[str],
        link: Link,
        token: str = "",
        scenario: str = "",
        on_welcome=None,
    ):
        super().__init__()
        self.manager = manager
        self.worker = worker
        self.operators = operators
        self.link = link
        self.token = token
        self.scenario = scenario
        self.on_welcome = on_welcome
        self.welcomed = asyncio.get_event_loop().create_future()
        self.last_heard = asyncio.get_event_loop().time()

    def handle_message(self, content, meta) -> None:
        self.last_heard = asyncio.get_running_loop().time()
        if isinstance(content, Heartbeat):
            return
        if isinstance(content, Welcome):
            if self.token and content.token != self.token:
                logger.error(
                    "worker %d: dropped a Welcome without the token from %s",
                    self.worker,
                    meta.get("sender_addr"),
                )
                return
            if not self.welcomed.done():
                self.welcomed.set_result(True)
                connection = meta.get("connection")
                if connection is not None:  # (TCP) everything from the manager comes on it
                    connection.on_lost = self._connection_lost
                if self.on_welcome is not None:
                    self.on_welcome()
        elif isinstance(content, Refused):
            if not self.welcomed.done():
                self.welcomed.set_exception(
                    PeerError(f"the manager refused worker {self.worker}: {content.reason}")
                )
        elif isinstance(content, ClockSet):
            self.scheduler.clock.set_time(content.time)
        elif isinstance(content, ClockQuery):
            self._answer(content.round)
        elif isinstance(content, ClockStop):
            if not self.stopped.done():
                self.stopped.set_result(content.reason)
        else:
            logger.warning(
                "worker clock: dropped unexpected %s from %s",
                type(content).__name__,
                meta.get("sender_addr"),
            )

    def fail(self, error: Exception) -> None:
        """End the wait for the Welcome, or for the end of the run, with ``error``: this
        process cannot go on (its MQTT client id is taken, its manager is gone)."""
        if not self.welcomed.done():
            self.welcomed.set_exception(error)
        elif self.welcomed.exception() is None and not self.stopped.done():
            # (refused: the join has failed already, and nothing waits for the stop)
            self.stopped.set_exception(error)

    def _connection_lost(self) -> None:
        """The manager's connection has closed: unless it has stopped the run, it is gone.
        Its ClockStop comes before the close on that connection, and this clock handles
        messages on arrival (assume.idle.hand_to), so a stop is never taken for a loss."""
        self.fail(
            PeerError(
                f"worker {self.worker}: the manager at {address_text(self.manager.protocol_addr)} "
                "closed its connection during the run: its process ended (its log says why) or "
                "its host went away"
            )
        )

    async def join(self, timeout: float, retry: float = 0.5) -> None:
        """Announce this worker until the manager answers, at most ``timeout`` seconds."""
        hello = Hello(self.worker, self.operators, self.token, self.scenario)
        deadline = asyncio.get_running_loop().time() + timeout
        while not self.welcomed.done():
            await self.send_message(hello, self.manager)
            await flush(self)
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                raise PeerError(
                    f"worker {self.worker} waited {timeout:g} s for the manager at "
                    f"{address_text(self.manager.protocol_addr)}; it did not answer"
                )
            try:
                # poll: the manager may not be up yet; announce again until it answers
                await asyncio.wait_for(asyncio.shield(self.welcomed), min(retry, left))
            except TimeoutError:
                continue
        self.welcomed.result()

    async def wait_for_stop(self, peer_timeout: float) -> str:
        """Wait until the manager stops the run; its reason ("" when the run finished).
        A manager not heard for ``peer_timeout`` seconds is an error."""
        loop = asyncio.get_running_loop()
        while True:
            silence = loop.time() - self.last_heard
            try:
                return await asyncio.wait_for(
                    asyncio.shield(self.stopped), max(0.0, peer_timeout - silence)
                )
            except TimeoutError:
                if loop.time() - self.last_heard >= peer_timeout:
                    raise PeerError(
                        f"worker {self.worker}: the manager at "
                        f"{address_text(self.manager.protocol_addr)} has not been heard for "
                        f"{peer_timeout:g} s; it is gone or unreachable"
                    ) from None

    def _answer(self, round_: int) -> None:
        async def answer():
            await until_idle(self.context._container)
            failures = [f"{type(e).__name__}: {e}" for e in self.link.failures]
            counter = self.link.counter
            status = ClockStatus(
                self.worker,
                round_,
                counter.remote_sent,
                counter.remote_received,
                counter.local_balanced,
                self.scheduler.clock.get_next_activity(),
                failures,
            )
            await self.send_message(status, self.manager)
            # this worker's messages of the step go out with its answer
            await flush(self)

        asyncio.ensure_future(answer())
