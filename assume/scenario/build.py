"""Turn a loaded scenario (:class:`ScenarioSpec`) into a configured :class:`World`."""

from __future__ import annotations

from assume.errors import ConfigurationError
from assume.markets.config import MarketConfig
from assume.scenario.loader import ScenarioSpec
from assume.world import World


def build_world(spec: ScenarioSpec, world: World, progress: bool | None = None) -> World:
    """Set up ``world`` with the markets, operators and units of ``spec``."""
    world.setup(
        start=spec.start,
        end=spec.end,
        simulation_id=spec.simulation_id,
        save_frequency_hours=spec.save_frequency_hours,
        bidding_params=spec.bidding_params,
        time_step=spec.time_step,
        progress=progress,
        seed=spec.seed,
    )
    world.forecasts = dict(spec.forecasts)
    where = str(spec.config_path)
    for market_id, raw in spec.markets.items():
        market = MarketConfig.from_dict(market_id, raw, where)
        if market.operator not in world.market_operators:
            world.add_market_operator(market.operator)
        world.add_market(market.operator, market)
    for unit in spec.units:
        if unit.operator not in world.unit_operators:
            world.add_unit_operator(unit.operator)
        try:
            world.add_unit(
                unit.name,
                unit.unit_type,
                unit.operator,
                unit.params,
                series=unit.series,
                bidding_strategies=unit.bidding,
            )
        except ConfigurationError as error:
            raise ConfigurationError(f"{_unit_file(spec, unit.unit_type)}: {error}") from None
    return world


def _unit_file(spec: ScenarioSpec, unit_type: str):
    """The unit table a unit of ``unit_type`` came from (its default name if overridden)."""
    from assume.scenario.loader import UNIT_FILES

    key = next((k for k, t in UNIT_FILES.items() if t == unit_type), unit_type)
    name = spec.extra.get(key) if isinstance(spec.extra.get(key), str) else f"{key}.csv"
    return spec.input_path / name


def add_private_units(world: World, spec: ScenarioSpec) -> None:
    """Add the units of ``spec`` to ``world`` under private units operators: a worker hosts
    them, the manager sees only their orders. The private scenario must cover the same
    horizon at the same time step; its markets are ignored (the units bid on the world's)."""
    if spec.index != world.index:
        raise ConfigurationError(
            f"{spec.config_path}: private units must use the simulation's horizon and time step "
            f"({world.index.length} steps of {world.index.step} s from {world.index.start}), "
            f"got {spec.index.length} steps of {spec.index.step} s from {spec.index.start}"
        )
    for unit in spec.units:
        if unit.operator not in world.unit_operators:
            world.add_unit_operator(unit.operator, private=True)
        elif not world.unit_operators[unit.operator].private:
            raise ConfigurationError(
                f"{spec.config_path}: private unit {unit.name!r} names units operator "
                f"{unit.operator!r}, which belongs to the shared scenario; give private units "
                "operators of their own"
            )
        world.add_unit(
            unit.name,
            unit.unit_type,
            unit.operator,
            unit.params,
            series=unit.series,
            bidding_strategies=unit.bidding,
        )
