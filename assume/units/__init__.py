"""Unit models, registered by the unit type names of scenario files."""

from assume.errors import ConfigurationError
from assume.units.base import Fleet
from assume.units.demand import DemandFleet
from assume.units.exchange import ExchangeFleet
from assume.units.power_plant import PowerPlantFleet
from assume.units.storage import StorageFleet

UNIT_TYPES: dict[str, type[Fleet]] = {
    fleet.unit_type: fleet for fleet in (PowerPlantFleet, DemandFleet, StorageFleet, ExchangeFleet)
}


def get_fleet_type(unit_type: str) -> type[Fleet]:
    """The fleet class of a unit type; an unknown name lists the known ones."""
    try:
        return UNIT_TYPES[unit_type]
    except KeyError:
        raise ConfigurationError(
            f"unknown unit type {unit_type!r}; known unit types: {', '.join(sorted(UNIT_TYPES))}"
        ) from None


__all__ = ["UNIT_TYPES", "Fleet", "get_fleet_type"]
