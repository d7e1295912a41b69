"""A worker of a distributed simulation: hosts units operators, follows the manager's clock."""

from __future__ import annotations

import logging
import time

from mango.messages.message import AgentAddress
from mango.util.clock import ExternalClock

from assume.distributed.clock import WorkerClock
from assume.distributed.settings import CLOCK_AGENT, assign_operators
from assume.errors import ConfigurationError, PeerError
from assume.lookahead import done_ahead
from assume.messaging import Link

logger = logging.getLogger(__name__)


class WorkerRunner:
    """Builds this worker's units operators and runs them until the manager stops."""

    def __init__(self, world):
        self.world = world
        self.settings = world.distributed

    def operator_ids(self) -> list[str]:
        """The scenario's operators assigned to this worker (explicitly, or by the
        deterministic assignment), then its private ones."""
        settings, world = self.settings, self.world
        public = [i for i, o in world.unit_operators.items() if not o.private]
        if settings.operators is not None:
            unknown = sorted(set(settings.operators) - set(public))
            if unknown:
                raise ConfigurationError(
                    f"worker {settings.worker_index}: unknown units operator(s) "
                    f"{', '.join(unknown)}; known: {', '.join(sorted(public))}"
                )
            assigned = list(settings.operators)
        else:
            work = {operator: world.operator_work(operator) for operator in public}
            assigned = assign_operators(public, settings.workers, work)[settings.worker_index]
        return assigned + [i for i, o in world.unit_operators.items() if o.private]

    async def run(self) -> dict:
        world, settings = self.world, self.settings
        wall_start = time.perf_counter()
        clock = ExternalClock(world.start)
        container = settings.create_container(clock, manager=False)
        link = Link(post=container.post if getattr(container, "batching", False) else None)
        manager = settings.manager_protocol_addr
        operator_ids = self.operator_ids()
        roles = world.build_operators(
            container,
            link,
            operator_ids,
            world.market_addresses(manager),
            AgentAddress(manager, "output"),
            register_on_ready=False,
        )

        def register():
            for role in roles:
                role.register()

        worker_clock = WorkerClock(
            AgentAddress(manager, CLOCK_AGENT),
            settings.worker_index,
            operator_ids,
            link,
            settings.token,
            world.simulation_id,
            on_welcome=register,
        )
        container.register(worker_clock, suggested_aid=CLOCK_AGENT)
        container.on_broken = worker_clock.fail
        await container.start()
        link.counter.local_addr = container.addr
        try:
            container.on_ready()
            await worker_clock.join(settings.connect_timeout)
            logger.info(
                "worker %d joined with operators %s", settings.worker_index, ", ".join(operator_ids)
            )
            reason = await worker_clock.wait_for_stop(settings.peer_timeout)
        finally:
            await container.shutdown()
        seconds, finished = done_ahead()
        logger.info(
            "worker %d used %.3f s of CPU; it computed ahead while it waited: %.3f s "
            "(%d jobs finished there)",
            settings.worker_index,
            time.process_time(),
            seconds,
            finished,
        )
        if reason:
            raise PeerError(
                f"worker {settings.worker_index}: the manager stopped the run: {reason}"
            )
        return {
            "simulation_id": world.simulation_id,
            "wall_time": time.perf_counter() - wall_start,
            "operators": operator_ids,
            "messages_sent": link.counter.sent,
            "messages_handled": link.counter.received,
            "computed_ahead_s": seconds,
        }
