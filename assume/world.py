"""The World: builds markets, operators and units, and runs the simulation.

In one process (``distributed_role=None``) all agents live in one mango container driven
by an external clock: the world moves the clock to the next scheduled event as soon as
every agent is idle, so a simulated year runs as fast as the work allows.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from dataclasses import dataclass, field

import numpy as np
from mango import RoleAgent
from mango.messages.message import AgentAddress

from assume.errors import ConfigurationError
from assume.forecasts import Forecasts
from assume.lookahead import new_event_loop
from assume.markets.config import MarketConfig
from assume.markets.role import MarketRole
from assume.messaging import Link
from assume.operators import UnitsOperatorRole
from assume.outputs.background import BackgroundWriter
from assume.outputs.role import OutputRole
from assume.strategies import get_strategy
from assume.strategies.base import BiddingStrategy
from assume.timeutil import TimeIndex, parse_datetime, parse_duration
from assume.units import Fleet, get_fleet_type

logger = logging.getLogger(__name__)

OUTPUT_AGENT = "output"


# rough CPU time (microseconds) of a units operator's messages at each opening of a market it
# bids on (the opening, its orders, the market's answer; see World.operator_work)
OPENING_WORK = 60.0


@dataclass
class _Operator:
    fleets: dict[str, Fleet] = field(default_factory=dict)
    # unit id -> (unit type, {market id: strategy name})
    bidding: dict[str, tuple[str, dict[str, str]]] = field(default_factory=dict)
    # a private operator's units stay in its process: no unit tables or dispatch reported,
    # and they do not enter the forecasts that all processes compute alike
    private: bool = False


def _check_id(kind: str, identifier: str) -> str:
    if not isinstance(identifier, str) or not identifier:
        raise ConfigurationError(f"{kind} id must be a non-empty string, got {identifier!r}")
    if identifier.startswith("agent") and identifier[5:].isdigit():
        raise ConfigurationError(f"{kind} id {identifier!r} is reserved by mango (agent<number>)")
    return identifier


class World:
    """A simulation: markets, unit operators with their units, and where results go."""

    def __init__(
        self,
        addr: str = "world",
        database_uri: str | None = None,
        export_csv_path: str | None = None,
        log_level: str = "INFO",
        distributed_role: bool | None = None,
        writers: list | None = None,
        distributed=None,
    ):
        """``writers``: extra result writers (objects with ``write(table, columns)`` and
        ``close()``, see :mod:`assume.outputs.writers`) besides the CSV files and database.
        A writer must not change the arrays it is given: the CSV files and database are
        written from the same arrays, later, in another process.
        ``distributed``: a :class:`assume.distributed.settings.DistributedSettings` for
        ``distributed_role=True`` (manager) or ``False`` (worker)."""
        self.addr = addr
        self.database_uri = database_uri
        self.export_csv_path = export_csv_path
        self.distributed_role = distributed_role
        self.extra_writers = list(writers or [])
        self.interrupted = False
        if distributed is None and distributed_role is not None:
            from assume.distributed.settings import DistributedSettings

            distributed = DistributedSettings()
        self.distributed = distributed
        logging.getLogger("assume").setLevel(
            log_level.upper() if isinstance(log_level, str) else log_level
        )
        self.index: TimeIndex | None = None
        self.market_operators: dict[str, list[str]] = {}
        self.markets: dict[str, MarketConfig] = {}
        self.unit_operators: dict[str, _Operator] = {}
        self.unit_owner: dict[str, str] = {}
        self.bidding_params: dict = {}
        self.forecasts: dict[str, np.ndarray] = {}
        self.result: dict = {}

    # -- building ----------------------------------------------------------------------
    def setup(
        self,
        start,
        end,
        simulation_id: str,
        save_frequency_hours: float | None = 24,
        bidding_params: dict | None = None,
        real_time: bool = False,
        time_step="1h",
        progress: bool | None = None,
        seed: int | None = None,
    ) -> None:
        """Set the horizon [start, end] (inclusive index at ``time_step``) and run options."""
        self.start = parse_datetime(start, "start")
        self.end = parse_datetime(end, "end")
        self.time_step = parse_duration(time_step, "time_step")
        self.index = TimeIndex.inclusive(self.start, self.end, self.time_step)
        if not isinstance(simulation_id, str) or not simulation_id:
            raise ConfigurationError(
                f"simulation_id must be a non-empty string, got {simulation_id!r}"
            )
        self.simulation_id = simulation_id
        self.save_frequency_hours = save_frequency_hours
        self.bidding_params = dict(bidding_params or {})
        self.real_time = real_time
        self.progress = progress
        self.seed = seed

    def _require_setup(self) -> None:
        if self.index is None:
            raise ConfigurationError("call World.setup(start, end, simulation_id) first")

    def add_market_operator(self, market_operator_id: str) -> None:
        _check_id("market operator", market_operator_id)
        if market_operator_id in self.market_operators or market_operator_id in self.unit_operators:
            raise ConfigurationError(f"duplicate agent id {market_operator_id!r}")
        self.market_operators[market_operator_id] = []

    def add_market(self, market_operator_id: str, market_config: MarketConfig | dict) -> None:
        self._require_setup()
        if market_operator_id not in self.market_operators:
            raise ConfigurationError(
                f"unknown market operator {market_operator_id!r}; known: "
                f"{', '.join(sorted(self.market_operators)) or 'none (call add_market_operator)'}"
            )
        if isinstance(market_config, dict):
            market_config = MarketConfig.from_dict(
                market_config.get("market_id", ""), market_config
            )
        if market_config.market_id in self.markets:
            raise ConfigurationError(f"duplicate market id {market_config.market_id!r}")
        _check_id("market", market_config.market_id)
        market_config.operator = market_operator_id
        self.markets[market_config.market_id] = market_config
        self.market_operators[market_operator_id].append(market_config.market_id)

    def add_unit_operator(self, id: str, private: bool = False) -> None:
        """Add a units operator. A ``private`` one (on a worker) reports only its orders:
        neither its unit tables nor its dispatch reach the output."""
        _check_id("unit operator", id)
        if id in self.unit_operators or id in self.market_operators or id == OUTPUT_AGENT:
            raise ConfigurationError(f"duplicate agent id {id!r}")
        self.unit_operators[id] = _Operator(private=private)

    def add_unit(
        self,
        id: str,
        unit_type: str,
        unit_operator_id: str,
        unit_params: dict,
        series: dict | None = None,
        bidding_strategies: dict | None = None,
    ) -> None:
        """Add a unit to an operator.

        ``bidding_strategies`` maps market id -> strategy name (also accepted as
        ``unit_params["bidding_strategies"]``); ``series`` maps a series name -> array over the
        simulation index (e.g. ``availability``, ``volume`` of a demand)."""
        self._require_setup()
        if id in self.unit_owner:
            raise ConfigurationError(
                f"duplicate unit id {id!r} (already added to operator {self.unit_owner[id]!r})"
            )
        operator = self.unit_operators.get(unit_operator_id)
        if operator is None:
            raise ConfigurationError(
                f"unit {id!r}: unknown unit operator {unit_operator_id!r}; known: "
                f"{', '.join(sorted(self.unit_operators)) or 'none (call add_unit_operator)'}"
            )
        fleet_type = get_fleet_type(unit_type)
        params = dict(unit_params)
        bidding = dict(bidding_strategies or params.pop("bidding_strategies", None) or {})
        for market_id, name in list(bidding.items()):
            if not name:
                del bidding[market_id]
                continue
            if market_id not in self.markets:
                raise ConfigurationError(
                    f"unit {id!r}: bids on unknown market {market_id!r}; known markets: "
                    f"{', '.join(sorted(self.markets)) or 'none'}"
                )
            get_strategy(name, unit_type, id)
        fleet = operator.fleets.get(unit_type)
        if fleet is None:
            fleet = operator.fleets[unit_type] = fleet_type(self.index)
        fleet.add(id, params, series or {})
        operator.bidding[id] = (unit_type, bidding)
        self.unit_owner[id] = unit_operator_id

    def operator_work(self, operator_id: str) -> float:
        """A rough estimate of the CPU time (microseconds) an operator's bidding costs per
        simulated day: its strategies' :meth:`~BiddingStrategy.work` at each opening (one
        instance per market, unit type and strategy, as it runs them), and its messages.
        ``assume -p`` balances operators over workers by it."""
        operator = self.unit_operators[operator_id]
        groups: dict[tuple[str, str, str], list[dict]] = {}
        for unit_id, (unit_type, bidding) in operator.bidding.items():
            params = operator.fleets[unit_type].unit_parameters(unit_id) if bidding else {}
            for market_id, name in bidding.items():
                groups.setdefault((market_id, unit_type, name), []).append(params)
        total = 0.0
        for (market_id, unit_type, name), units in sorted(groups.items()):
            market = self.markets[market_id]
            work = get_strategy(name, unit_type).work(
                units, market, self.index.step, self.bidding_params
            )
            total += work * 86400 / market.opening_frequency
        markets = {market_id for market_id, _, _ in groups}
        for market_id in sorted(markets):  # a set's order differs between processes
            total += OPENING_WORK * 86400 / self.markets[market_id].opening_frequency
        return total

    # -- running -----------------------------------------------------------------------
    def _strategy_groups(
        self, operator: _Operator, forecasts: Forecasts
    ) -> dict[str, list[BiddingStrategy]]:
        """Group each fleet's units by (market, strategy): one strategy instance per group."""
        groups: dict[tuple[str, str, str], list[int]] = {}
        for unit_id, (unit_type, bidding) in operator.bidding.items():
            row = operator.fleets[unit_type].row_of[unit_id]
            for market_id, name in bidding.items():
                groups.setdefault((market_id, unit_type, name), []).append(row)
        by_market: dict[str, list[BiddingStrategy]] = {}
        for (market_id, unit_type, name), rows in sorted(groups.items()):
            strategy = get_strategy(name, unit_type)
            by_market.setdefault(market_id, []).append(
                strategy(
                    name,
                    operator.fleets[unit_type],
                    np.array(rows, dtype="int64"),
                    self.markets[market_id],
                    forecasts,
                    **self.bidding_params,
                )
            )
        return by_market

    # -- agents ------------------------------------------------------------------------
    def build_output(self, container, link: Link) -> OutputRole:
        """The output agent with its writers (in the process that writes the results)."""
        if self.export_csv_path or self.database_uri:
            writers = [
                BackgroundWriter(self.export_csv_path, self.database_uri, self.simulation_id)
            ]
        else:
            writers = []
        writers += self.extra_writers
        role = OutputRole(writers, self.simulation_id, self.save_frequency_hours, self.start)
        role.link = link
        agent = RoleAgent()
        agent.add_role(role)
        container.register(agent, suggested_aid=OUTPUT_AGENT)
        return role

    def build_markets(self, container, link: Link, output_addr) -> list[AgentAddress]:
        """One agent per market operator, holding a role per market."""
        addresses = []
        for operator_id, market_ids in self.market_operators.items():
            agent = RoleAgent()
            for market_id in market_ids:
                role = MarketRole(
                    self.markets[market_id], self.start, self.end, output_addr, market_ids
                )
                role.link = link
                agent.add_role(role)
            container.register(agent, suggested_aid=operator_id)
            addresses.append(AgentAddress(container.addr, operator_id))
        return addresses

    def market_addresses(self, protocol_addr) -> dict[str, AgentAddress]:
        """Where each market's agent listens, given its container's address."""
        return {
            market_id: AgentAddress(protocol_addr, operator_id)
            for operator_id, market_ids in self.market_operators.items()
            for market_id in market_ids
        }

    def build_operators(
        self,
        container,
        link: Link,
        operator_ids: list[str],
        market_addrs: dict[str, AgentAddress],
        output_addr,
        register_on_ready: bool = True,
    ) -> list[UnitsOperatorRole]:
        """Agents for the units operators ``operator_ids``. Forecasts see all units of the
        scenario, so that they are the same whichever process hosts an operator."""
        for operator in self.unit_operators.values():
            for fleet in operator.fleets.values():
                if not fleet.frozen:
                    fleet.freeze()
        public = [o for o in self.unit_operators.values() if not o.private]
        bidders: dict[str, set[str]] = {}
        for operator in public:
            for unit_id, (_, bidding) in operator.bidding.items():
                for market_id in bidding:
                    bidders.setdefault(market_id, set()).add(unit_id)
        forecasts = Forecasts(
            self.index, [f for o in public for f in o.fleets.values()], self.forecasts, bidders
        )
        roles = []
        for operator_id in operator_ids:
            operator = self.unit_operators[operator_id]
            role = UnitsOperatorRole(
                operator_id,
                self.index,
                operator.fleets,
                self._strategy_groups(operator, forecasts),
                market_addrs,
                None if operator.private else output_addr,
                register_on_ready,
            )
            role.link = link
            agent = RoleAgent()
            agent.add_role(role)
            container.register(agent, suggested_aid=operator_id)
            roles.append(role)
        return roles

    async def async_run(self) -> dict:
        """Run the simulation to the end; returns a summary (wall time, rows written).

        If the run stops early (an error in an agent, Ctrl-C), the dispatch executed so far is
        reported and every result computed so far is written before the error propagates."""
        self._require_setup()
        if not self.markets:
            raise ConfigurationError("no markets: add at least one with add_market")
        if self.distributed_role is None:
            from assume.runner import LocalRunner as runner
        elif self.distributed_role:
            from assume.distributed.manager import ManagerRunner as runner
        else:
            from assume.distributed.worker import WorkerRunner as runner
        self.result = await runner(self).run()
        return self.result

    def run(self) -> dict:
        """Run the simulation in a new event loop (see :meth:`async_run`). Ctrl-C and SIGTERM
        end it at once: results computed so far are written, workers are stopped, and
        KeyboardInterrupt is raised."""

        async def main():
            task = asyncio.current_task()

            def interrupt():
                # the flag as well: Python 3.11's wait_for can swallow a cancellation
                self.interrupted = True
                task.cancel()

            for number in (signal.SIGINT, signal.SIGTERM):
                try:
                    asyncio.get_running_loop().add_signal_handler(number, interrupt)
                except (NotImplementedError, RuntimeError, ValueError):
                    pass  # not the main thread, or no signals on this platform
            return await self.async_run()

        try:
            # a loop that runs strategies' work planned ahead while it waits (assume.lookahead)
            with asyncio.Runner(loop_factory=new_event_loop) as runner:
                return runner.run(main())
        except asyncio.CancelledError:
            raise KeyboardInterrupt from None
