"""Running a simulation: the clock loop shared by the one-process run and the manager.

A runner builds the agents of its process, then moves the clock from event to event: it
waits until the step is over (every agent idle, every message handled), flushes results
between steps, and winds up at the end or on an error, so that every result computed so
far is written.
"""

from __future__ import annotations

import asyncio
import logging
import time

from mango.messages.message import AgentAddress
from mango.util.clock import ExternalClock

from assume.errors import SimulationError
from assume.idle import until_idle
from assume.local_container import LocalContainer
from assume.messages import SimulationEnd, SimulationStart
from assume.messaging import Link
from assume.progress import Progress
from assume.timeutil import format_datetime

logger = logging.getLogger(__name__)

# a bound, not a synchronisation: a broken agent must not block writing what was computed
WIND_UP_TIMEOUT = 60


class LocalRunner:
    """Runs every agent in one mango container in this process."""

    def __init__(self, world):
        self.world = world
        self.clock = ExternalClock(world.start)
        self.failure: BaseException | None = None
        self.steps = 0
        self.step_seconds = 0.0

    # -- what differs between a local run and a distributed manager ---------------------
    def make_container(self):
        container = LocalContainer(self.clock, self.world.addr)
        self.link = Link(post=container.deliver)
        return container

    def build(self, container) -> None:
        world = self.world
        self.output = world.build_output(container, self.link)
        output_addr = AgentAddress(container.addr, "output")
        self.market_agents = world.build_markets(container, self.link, output_addr)
        operators = world.build_operators(
            container,
            self.link,
            list(world.unit_operators),
            world.market_addresses(container.addr),
            output_addr,
        )
        self.operator_agents = [AgentAddress(container.addr, r.operator_id) for r in operators]

    async def begin(self) -> None:
        """Everything needed before the first step (registrations are answered here)."""

    async def settle(self, moment: float | None = None) -> float | None:
        """Move the clock to ``moment`` (if given), wait until the step is over and return the
        next scheduled event."""
        if moment is not None:
            self.clock.set_time(moment)
        await until_idle(self.container)
        self.raise_failures()
        return self.clock.get_next_activity()

    async def send(self, content, receiver) -> None:
        """Send a message from the world itself, counted like any simulation message."""
        self.link.counter.count_sent(receiver.protocol_addr)
        self.link.post(content, receiver, "world")

    async def close(self) -> None:
        await self.container.shutdown()

    # -- the shared loop ------------------------------------------------------------------
    def raise_failures(self) -> None:
        if self.link.failures:
            error = self.link.failures[0]
            raise SimulationError(
                f"simulation {self.world.simulation_id} stopped: an agent failed with "
                f"{type(error).__name__}: {error}"
            ) from error

    async def run(self) -> dict:
        world = self.world
        wall_start = time.perf_counter()
        self.container = self.make_container()
        # started first: a network container knows its real address (port 0) only then
        await self.container.start()
        self.link.counter.local_addr = self.container.addr
        try:
            self.build(self.container)
        except BaseException:
            await self.container.shutdown()
            raise
        progress = Progress(world.start, world.end, enabled=world.progress)
        finished = False
        try:
            self.container.on_ready()
            await self.begin()
            await self.settle()
            for address in self.market_agents:
                await self.send(SimulationStart(world.start), address)
            await self._run_clock(progress)
            finished = True
        except BaseException as error:
            self.failure = error
            raise
        finally:
            progress.close()
            unwritten = None
            try:
                await self._wind_up(world.end if finished else self.clock.time)
            except asyncio.CancelledError as error:  # interrupted (the results are written)
                if self.failure is None:
                    self.failure = error  # the workers are told the run was interrupted
                raise
            except Exception as error:  # the results could not all be written
                unwritten = error
                if self.failure is None:
                    self.failure = error  # the workers are told why the run stops
                elif str(error) != str(self.failure):
                    logger.error("could not write all results either: %s", error)
            finally:
                if not finished and unwritten is None:
                    logger.error(
                        "simulation %s stopped early at %s; all %d result rows computed so "
                        "far were written",
                        world.simulation_id,
                        format_datetime(int(self.clock.time)),
                        self.output.rows_written,
                    )
                await self.close()
            if unwritten is not None and finished:
                raise unwritten
        return {
            "simulation_id": world.simulation_id,
            "wall_time": time.perf_counter() - wall_start,
            "rows_written": self.output.rows_written,
            "messages_sent": self.link.counter.sent,
            "messages_handled": self.link.counter.received,
            # the clock loop alone (no start-up, no wind-up): what a step costs
            "steps": self.steps,
            "step_seconds": self.step_seconds,
        }

    async def _run_clock(self, progress) -> None:
        """Move the clock from event to event. In real-time mode each event also waits until
        the wall clock has reached it (simulation time t happens at wall time
        ``wall_start + (t - start)``)."""
        world = self.world
        wall_start = time.time()
        stepping = time.perf_counter()
        moment = await self.settle()
        while moment is not None and moment <= world.end:
            self.steps += 1
            if world.interrupted:
                raise KeyboardInterrupt
            if world.real_time:
                delay = wall_start + (moment - world.start) - time.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            self.output.before_step(moment)
            progress.update(moment)
            moment = await self.settle(moment)
        self.step_seconds = time.perf_counter() - stepping

    def living_operator_agents(self) -> list:
        """The units operators still running, to report their last dispatch."""
        return self.operator_agents

    async def _wind_up(self, until: float) -> None:
        """Operators report the dispatch up to ``until``; then everything is written (also
        when interrupted meanwhile, which is then raised)."""
        interrupted = False
        try:
            for address in self.living_operator_agents():
                await self.send(SimulationEnd(until), address)
            await asyncio.wait_for(self.settle(), WIND_UP_TIMEOUT)
        except asyncio.CancelledError:
            interrupted = True
            logger.error("interrupted while collecting the last dispatch reports")
        except Exception:
            logger.exception("could not collect the last dispatch reports")
        self.output.finish()
        # (Python 3.11's wait_for may swallow a cancellation: the flag is set as well)
        if interrupted or self.world.interrupted:
            raise asyncio.CancelledError
