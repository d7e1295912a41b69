"""The manager of a distributed simulation: markets, outputs and the clock.

Units operators run in worker processes (:mod:`assume.distributed.worker`); the manager
admits them, drives their clocks and ends every step exactly (:mod:`assume.distributed.clock`).
"""

from __future__ import annotations

import asyncio
import logging

from mango.messages.message import AgentAddress

from assume.distributed.clock import ManagerClock
from assume.distributed.settings import CLOCK_AGENT, address_text
from assume.errors import PeerError
from assume.messaging import Link
from assume.runner import LocalRunner
from assume.timeutil import format_datetime

logger = logging.getLogger(__name__)


class ManagerRunner(LocalRunner):
    """Runs markets and outputs here and the units operators on admitted workers."""

    def __init__(self, world):
        super().__init__(world)
        self.settings = world.distributed

    def make_container(self):
        container = self.settings.create_container(self.clock, manager=True)
        self.link = Link(post=container.post if getattr(container, "batching", False) else None)
        return container

    def build(self, container) -> None:
        world = self.world
        self.output = world.build_output(container, self.link)
        output_addr = AgentAddress(container.addr, "output")
        self.market_agents = world.build_markets(container, self.link, output_addr)
        self.manager_clock = ManagerClock(
            self.settings.workers, self.link, self.settings.token, world.simulation_id
        )
        container.register(self.manager_clock, suggested_aid=CLOCK_AGENT)
        # this process cannot go on (its MQTT client id is taken): stop the run, keep results
        container.on_broken = lambda error: self.manager_clock.peer_gone(str(error))
        self.operator_agents = []

    async def begin(self) -> None:
        self.manager_clock.start_heartbeat(self.settings.peer_timeout / 3)
        before_join = getattr(self.world, "before_join", None)
        if before_join is not None:
            # -p: start the worker processes, which report one that ends with an error (and
            # how), so their connections need no watching
            self.manager_clock.watch_connections = False
            before_join(self.container.addr, self.manager_clock.peer_gone)
        logger.info(
            "manager at %s: waiting up to %g s for %d worker(s)",
            self._where(),
            self.settings.connect_timeout,
            self.settings.workers,
        )
        await self.manager_clock.wait_for_workers(self.settings.connect_timeout)
        clock = self.manager_clock
        self.operator_agents = [
            AgentAddress(clock.members[index].protocol_addr, operator_id)
            for index in sorted(clock.members)
            for operator_id in clock.operators[index]
        ]
        self._check_placement()
        known = set(self.world.unit_operators)
        unknown = [a.aid for a in self.operator_agents if a.aid not in known]
        if unknown:
            logger.info("workers bring units operators of their own: %s", ", ".join(unknown))

    def _where(self) -> str:
        """Where workers reach this manager: HOST:PORT, or its client id at the broker."""
        address = self.container.addr
        if isinstance(address, tuple | list):
            return address_text(address)
        return f"{address} on the MQTT broker {self.container.broker}"

    def _check_placement(self) -> None:
        """Every units operator of the scenario must run on exactly one worker. Workers place
        them by the scenario's ids and the estimated work of their units, each on its own, so
        workers whose scenario files differ could leave one out (its units would silently
        not bid) or run one twice."""
        clock = self.manager_clock
        run_by: dict[str, list[int]] = {}
        for index in sorted(clock.members):
            for operator_id in clock.operators[index]:
                run_by.setdefault(operator_id, []).append(index)
        twice = [
            f"{operator} (workers {', '.join(map(str, workers))})"
            for operator, workers in sorted(run_by.items())
            if len(workers) > 1
        ]
        missing = [o for o in sorted(self.world.unit_operators) if o not in run_by]
        if twice or missing:
            problems = ([f"not run by any worker: {', '.join(missing)}"] if missing else []) + (
                [f"run twice: {'; '.join(twice)}"] if twice else []
            )
            raise PeerError(
                f"the workers' placement of units operators does not add up ({'; '.join(problems)})"
                ". Every worker must run the same scenario (the same unit tables and "
                "bidding_strategy_params), or the config's distributed.assignment must place "
                "every operator once."
            )

    def living_operator_agents(self) -> list:
        """The units operators on workers that are not known to be gone, and from now on wait
        for those workers only: after a lost worker has stopped the run, the others' last
        reports are still written."""
        self.manager_clock.forget_lost()
        living = {address.protocol_addr for address in self.manager_clock.members.values()}
        return [agent for agent in self.operator_agents if agent.protocol_addr in living]

    async def settle(self, moment: float | None = None) -> float | None:
        try:
            next_event = await self.manager_clock.settle(self.settings.peer_timeout, moment)
        except PeerError as error:
            raise PeerError(
                f"{error} (simulation time {format_datetime(int(self.clock.time))})"
            ) from None
        self.raise_failures()
        return next_event

    async def send(self, content, receiver) -> None:
        self.link.counter.count_sent(receiver.protocol_addr)
        await self.container.send_message(content, receiver, sender_id="world")

    async def close(self) -> None:
        error = self.failure
        if error is None:
            reason = ""
        elif isinstance(error, KeyboardInterrupt | asyncio.CancelledError):
            reason = "the manager was interrupted (Ctrl-C or SIGTERM)"
        else:
            reason = f"{type(error).__name__}: {error}"
        await self.manager_clock.stop(reason)
        await self.container.shutdown()
