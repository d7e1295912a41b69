"""Bidding strategies, registered under the names scenario files use in ``bidding_<market>``."""

from assume.errors import ConfigurationError
from assume.strategies.base import BiddingStrategy
from assume.strategies.elastic import EnergyHeuristicElasticStrategy
from assume.strategies.flexable import EnergyHeuristicFlexableStrategy
from assume.strategies.flexable_storage import StorageEnergyHeuristicFlexableStrategy
from assume.strategies.naive import EnergyNaiveStrategy, ExchangeEnergyNaiveStrategy
from assume.strategies.optimized import StorageEnergyOptimizedStrategy
from assume.strategies.optimized_plant import PowerPlantEnergyOptimizedStrategy

STRATEGIES: dict[str, type[BiddingStrategy]] = {
    "powerplant_energy_naive": EnergyNaiveStrategy,
    "demand_energy_naive": EnergyNaiveStrategy,
    "exchange_energy_naive": ExchangeEnergyNaiveStrategy,
    "powerplant_energy_heuristic_flexable": EnergyHeuristicFlexableStrategy,
    "storage_energy_heuristic_flexable": StorageEnergyHeuristicFlexableStrategy,
    "demand_energy_heuristic_elastic": EnergyHeuristicElasticStrategy,
    "storage_energy_optimized": StorageEnergyOptimizedStrategy,
    "powerplant_energy_optimized": PowerPlantEnergyOptimizedStrategy,
}

# names of earlier ASSUME releases that scenario folders still use
ALIASES: dict[str, str] = {
    "naive_eom": "powerplant_energy_naive",
    "naive_exchange": "exchange_energy_naive",
    "flexable_eom": "powerplant_energy_heuristic_flexable",
    "flexable_eom_storage": "storage_energy_heuristic_flexable",
    "elastic_demand": "demand_energy_heuristic_elastic",
}


def register_strategy(name: str, strategy: type[BiddingStrategy]) -> None:
    """Make ``strategy`` available under ``name`` (for user-defined strategies)."""
    if not (isinstance(strategy, type) and issubclass(strategy, BiddingStrategy)):
        raise ConfigurationError(f"strategy {name!r} must be a BiddingStrategy subclass")
    STRATEGIES[name] = strategy


def get_strategy(name: str, unit_type: str | None = None, unit: str = "") -> type[BiddingStrategy]:
    """The strategy class registered as ``name``, checked against ``unit_type``."""
    strategy = STRATEGIES.get(ALIASES.get(name, name))
    where = f"unit {unit!r}: " if unit else ""
    if strategy is None:
        raise ConfigurationError(
            f"{where}unknown bidding strategy {name!r}; known strategies: "
            f"{', '.join(sorted(STRATEGIES))}"
        )
    if unit_type is not None and unit_type not in strategy.unit_types:
        fitting = sorted(n for n, s in STRATEGIES.items() if unit_type in s.unit_types)
        raise ConfigurationError(
            f"{where}bidding strategy {name!r} does not fit unit type {unit_type!r}; strategies "
            f"for {unit_type}: {', '.join(fitting)}"
        )
    return strategy


__all__ = ["STRATEGIES", "BiddingStrategy", "get_strategy", "register_strategy"]
