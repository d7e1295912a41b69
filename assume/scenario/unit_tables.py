"""Unit tables: the CSV files of one unit type (power plants, storages, demands,
exchanges), read into typed and validated :class:`UnitSpec` objects.

Each column of a unit type has a default and a rule (:data:`UNIT_COLUMNS`); columns that no
rule names are kept as numbers, or else as text. Time series are attached later, by
:mod:`assume.scenario.loader`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from assume.errors import InputDataError
from assume.scenario.csvfile import Table, read_table

logger = logging.getLogger(__name__)

REQUIRED = "<required>"
# Unit-table columns per unit type: column -> (default, rule). A default applies to an absent
# column and to an empty cell. Defaults are those of ASSUME 0.6.0's unit constructors
# (units/powerplant.py PowerPlant, units/demand.py Demand, units/storage.py Storage,
# units/exchange.py Exchange); ``None`` means "not set" (for ramps: unlimited).
# Rules: text; number; nonnegative (>= 0); share (0..1); efficiency (0 < x <= 1);
# consumption (stored as -|x|, the sign convention for consumed power); ramp (>= 0, 0 means
# unlimited as in ASSUME, stored None); ramp_charge (like ramp, stored as -|x|); count (>= 1);
# elasticity_model (linear or isoelastic).
UNIT_COLUMNS: dict[str, dict[str, tuple[object, str]]] = {
    "power_plant": {
        "technology": (REQUIRED, "text"),
        "fuel_type": ("others", "text"),
        "emission_factor": (0.0, "nonnegative"),  # t CO2 / MWh thermal
        "max_power": (REQUIRED, "nonnegative"),
        "min_power": (0.0, "nonnegative"),
        "efficiency": (1.0, "efficiency"),
        "additional_cost": (0.0, "number"),
        "ramp_up": (None, "ramp"),
        "ramp_down": (None, "ramp"),
        "min_operating_time": (1.0, "nonnegative"),  # steps
        "min_down_time": (1.0, "nonnegative"),
        "hot_start_cost": (0.0, "number"),  # EUR/MW, ASSUME multiplies by max_power
        "warm_start_cost": (0.0, "number"),
        "cold_start_cost": (0.0, "number"),
        "downtime_hot_start": (0.0, "nonnegative"),  # hours
        "downtime_warm_start": (0.0, "nonnegative"),
        "node": ("node0", "text"),
    },
    "demand": {
        "technology": (REQUIRED, "text"),
        "max_power": (REQUIRED, "consumption"),
        "min_power": (0.0, "consumption"),
        "price": (3000.0, "number"),
        "elasticity": (0.0, "number"),  # Demand reads these from **kwargs
        "elasticity_model": (None, "elasticity_model"),
        "num_bids": (1.0, "count"),
        "node": ("node0", "text"),
    },
    "storage": {
        "technology": (REQUIRED, "text"),
        "max_power_charge": (REQUIRED, "consumption"),
        "max_power_discharge": (REQUIRED, "nonnegative"),
        "min_power_charge": (0.0, "consumption"),
        "min_power_discharge": (0.0, "nonnegative"),
        "capacity": (REQUIRED, "nonnegative"),  # MWh
        "efficiency_charge": (1.0, "efficiency"),
        "efficiency_discharge": (1.0, "efficiency"),
        "min_soc": (0.0, "share"),
        "max_soc": (1.0, "share"),
        "initial_soc": (0.0, "share"),  # ASSUME: 0.0 from CSV (0.5 only if None is passed)
        "additional_cost_charge": (0.0, "number"),
        "additional_cost_discharge": (0.0, "number"),
        "ramp_up_charge": (None, "ramp_charge"),
        "ramp_down_charge": (None, "ramp_charge"),
        "ramp_up_discharge": (None, "ramp"),
        "ramp_down_discharge": (None, "ramp"),
        "min_operating_time": (0.0, "nonnegative"),
        "min_down_time": (0.0, "nonnegative"),
        "hot_start_cost": (0.0, "number"),
        "warm_start_cost": (0.0, "number"),
        "cold_start_cost": (0.0, "number"),
        "downtime_hot_start": (8.0, "nonnegative"),
        "downtime_warm_start": (48.0, "nonnegative"),
        "node": ("node0", "text"),
    },
    "exchange": {
        "technology": ("exchange", "text"),
        "price_import": (0.0, "number"),
        "price_export": (2999.0, "number"),
        "node": ("node0", "text"),
    },
}
_BOUNDS = {"nonnegative": (0.0, None), "share": (0.0, 1.0), "efficiency": (0.0, 1.0)}
_BOUNDS |= {"ramp": (0.0, None), "count": (1.0, None)}


@dataclass
class UnitSpec:
    """One unit as read from its unit table, with its time series over the index."""

    name: str
    unit_type: str
    operator: str
    bidding: dict[str, str]
    params: dict[str, float | str | None]
    series: dict[str, np.ndarray] = field(default_factory=dict)


def read_units(path: Path, unit_type: str, markets: dict[str, dict]) -> list[UnitSpec]:
    """The units of one unit table, typed and validated, without series yet.

    ``bidding_<market>`` columns of markets not in ``markets`` are ignored with a warning,
    as ASSUME never registers those bids.
    """
    table = read_table(path, index_label="unit name")
    params = _unit_params(table, unit_type)
    operators = table.strings("unit_operator", required=True)
    bidding = {}
    for column in table.columns:
        market = column.removeprefix("bidding_")
        if market != column and market not in markets:
            logger.warning("%s: column %r names no market of the case; ignored", path, column)
        elif market != column:
            bidding[market] = table.strings(column)
    return [
        UnitSpec(
            name=name,
            unit_type=unit_type,
            operator=operators[row],
            bidding={m: s[row] for m, s in bidding.items() if s[row] is not None},
            params={column: values[row] for column, values in params.items()},
        )
        for row, name in enumerate(table.index)
    ]


def _unit_params(table: Table, unit_type: str) -> dict[str, list]:
    """Every parameter column, known ones by their rule, others as numbers or else text."""
    known = UNIT_COLUMNS[unit_type]
    params = {column: _known_column(table, column, *rule) for column, rule in known.items()}
    for column in table.columns:
        if column in known or column == "unit_operator" or column.startswith("bidding_"):
            continue
        try:
            params[column] = _optional_floats(table.floats(column))
        except InputDataError:
            params[column] = table.strings(column)
    _check_relations(table, unit_type, params)
    return params


def _known_column(table: Table, column: str, default, rule: str) -> list:
    required = default is REQUIRED
    default = None if required else default
    if rule == "text":
        return table.strings(column, default=default, required=required)
    if rule == "elasticity_model":
        models = table.strings(column, default=default)
        for row, model in enumerate(models):
            if model not in (None, "linear", "isoelastic"):
                raise table.cell_error(row, column, "'linear' or 'isoelastic'")
        return models
    minimum, maximum = _BOUNDS.get(rule, (None, None))
    values = table.floats(column, default, required, minimum, maximum)
    if rule == "efficiency" and (values == 0).any():
        raise table.cell_error(int(np.argmax(values == 0)), column, "a number above 0, at most 1")
    if rule in ("consumption", "ramp_charge"):
        values = 0.0 - np.abs(values)
    if rule in ("ramp", "ramp_charge"):
        values[values == 0] = np.nan
    return _optional_floats(values)


def _optional_floats(values: np.ndarray) -> list[float | None]:
    return [None if np.isnan(value) else float(value) for value in values]


def _check_relations(table: Table, unit_type: str, params: dict[str, list]) -> None:
    """Checks between columns: each pair (low, high) must satisfy |low| <= |high|."""
    pairs = {
        "power_plant": [("min_power", "max_power")],
        "demand": [("min_power", "max_power")],
        "storage": [
            ("min_power_charge", "max_power_charge"),
            ("min_power_discharge", "max_power_discharge"),
            ("min_soc", "max_soc"),
        ],
    }.get(unit_type, [])
    for low, high in pairs:
        for row, (small, large) in enumerate(zip(params[low], params[high], strict=True)):
            if abs(small) > abs(large):
                raise table.cell_error(row, low, f"at most {high} ({abs(large):g}) in size")
