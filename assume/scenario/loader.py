"""Scenario loading: a config.yaml study case and its CSV folder become one ScenarioSpec.

The format is ASSUME's (see SCENARIO_FORMAT.md). Everything is read and validated here
(the unit tables by :mod:`assume.scenario.unit_tables`), before any agent exists, so that a
bad input fails fast with a message naming the file, unit and column.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from assume.errors import ConfigurationError, InputDataError
from assume.scenario.csvfile import Table, read_table
from assume.scenario.series import read_fuel_prices, read_series
from assume.scenario.unit_tables import UnitSpec, read_units
from assume.timeutil import TimeIndex, parse_datetime, parse_duration

__all__ = [
    "ScenarioSpec",
    "UnitSpec",
    "load_config_file",
    "load_scenario",
    "read_units",
]

logger = logging.getLogger(__name__)

# Unit files in ASSUME's loading order (loader_csv.py:setup_world) and their unit types.
UNIT_FILES = {
    "powerplant_units": "power_plant",
    "storage_units": "storage",
    "demand_units": "demand",
    "exchange_units": "exchange",
}
# Case keys naming an input file; the default file name is ``<key>.csv``.
FILE_KEYS = (
    *UNIT_FILES,
    "demand_df",
    "exchanges_df",
    "availability_df",
    "fuel_prices_df",
    "forecasts_df",
    "unit_operators",
)
# Defaults of study-case keys, from ASSUME 0.6.0 scenario/loader_csv.py
# (load_config_and_create_forecaster: seed 42; setup_world: save_frequency_hours 48).
CASE_DEFAULTS = {"save_frequency_hours": 48, "seed": 42, "bidding_strategy_params": {}}
_CASE_KEYS = {
    "start_date",
    "end_date",
    "time_step",
    "simulation_id",
    "input_path",
    "markets_config",
    *CASE_DEFAULTS,
    *FILE_KEYS,
}
# Unit files of ASSUME that this simulator does not model; their units would be missing.
_UNSUPPORTED_FILES = ("industrial_dsm_units", "residential_dsm_units")


@dataclass
class ScenarioSpec:
    """A study case, fully read and validated; time series are read-only float64 arrays."""

    scenario: str
    case: str
    simulation_id: str
    start: int
    end: int
    time_step: int
    index: TimeIndex
    save_frequency_hours: float | None
    seed: int | None
    bidding_params: dict
    markets: dict[str, dict]
    units: list[UnitSpec]
    forecasts: dict[str, np.ndarray]
    fuel_prices: dict[str, np.ndarray]
    config_path: Path
    input_path: Path
    extra: dict
    operator_bidding: dict[str, dict[str, str]] = field(default_factory=dict)


def load_scenario(inputs_dir: str | Path, scenario: str, case: str | None = None) -> ScenarioSpec:
    """Load ``<inputs_dir>/<scenario>/config.yaml``, study case ``case`` (default: the first)."""
    config_path = Path(inputs_dir) / scenario / "config.yaml"
    if not config_path.is_file():
        known = sorted(p.parent.name for p in Path(inputs_dir).glob("*/config.yaml"))
        raise ConfigurationError(
            f"scenario {scenario!r}: {config_path} does not exist; scenarios in {inputs_dir}: "
            f"{', '.join(known) or 'none'}"
        )
    return load_config_file(config_path, case=case, scenario=scenario)


def load_config_file(
    config_path: str | Path, case: str | None = None, scenario: str | None = None
) -> ScenarioSpec:
    """Load study case ``case`` (default: the first) of a config.yaml and the CSVs it names.

    CSVs are read from the config file's folder, or from the case's ``input_path`` (relative
    to the config file). ``scenario`` defaults to the name of the folder holding the CSVs.
    """
    config_path = Path(config_path)
    case, settings = _select_case(config_path, case)
    where = f"{config_path}, case {case!r}"
    input_path = _input_path(config_path, settings, where)
    scenario = scenario or input_path.resolve().name
    start = parse_datetime(_required(settings, "start_date", where), f"{where}: start_date")
    end = parse_datetime(_required(settings, "end_date", where), f"{where}: end_date")
    step = parse_duration(_required(settings, "time_step", where), f"{where}: time_step")
    try:
        index = TimeIndex.inclusive(start, end, step)
    except ConfigurationError as exc:
        raise ConfigurationError(f"{where}: {exc}") from None
    markets = _markets(settings, where)
    files = _InputFiles(input_path, settings, where)

    units = []
    for key, unit_type in UNIT_FILES.items():
        if files.path(key) is not None:
            units.extend(read_units(files.path(key), unit_type, markets))
    if not units:
        raise InputDataError(
            f"{where}: no units; expected at least one of "
            + ", ".join(files.describe(key) for key in UNIT_FILES)
        )
    _check_unique_names(units, files)
    fuel_prices = _read_optional(files, "fuel_prices_df", lambda p: read_fuel_prices(p, index))
    forecasts = _read_optional(files, "forecasts_df", lambda p: read_series(p, index))
    # plants share the fuel price arrays, so none of them may change one in place
    fuel_prices = {name: _frozen(values) for name, values in fuel_prices.items()}
    _attach_series(units, files, index, fuel_prices)
    return ScenarioSpec(
        scenario=scenario,
        case=case,
        simulation_id=str(settings.get("simulation_id") or f"{scenario}_{case}"),
        start=start,
        end=end,
        time_step=step,
        index=index,
        save_frequency_hours=_save_frequency(settings, where),
        seed=_seed(settings, where),
        bidding_params=_mapping(settings, "bidding_strategy_params", where),
        markets=markets,
        units=units,
        forecasts={name: _frozen(values) for name, values in forecasts.items()},
        fuel_prices=fuel_prices,
        config_path=config_path,
        input_path=input_path,
        extra={key: value for key, value in settings.items() if key not in _CASE_KEYS},
        operator_bidding=_operator_bidding(files, markets),
    )


def _select_case(config_path: Path, case: str | None) -> tuple[str, dict]:
    try:
        document = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigurationError(f"config file {config_path} does not exist") from None
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"{config_path} is not valid YAML: {exc}") from None
    if not isinstance(document, dict):
        raise ConfigurationError(f"{config_path}: expected a mapping of study case names to cases")
    # a study case is a mapping with start_date; other top-level keys (distributed: ...) are not
    cases = {
        str(key): value
        for key, value in document.items()
        if isinstance(value, dict) and "start_date" in value
    }
    if not cases:
        raise ConfigurationError(
            f"{config_path}: no study case; expected a top-level key whose value is a mapping "
            "with start_date, end_date, time_step and markets_config"
        )
    if case is None or case == "":
        case = next(iter(cases))
    if case not in cases:
        raise ConfigurationError(
            f"{config_path}: no study case {case!r}; known cases: {', '.join(cases)}"
        )
    return case, cases[case]


def _input_path(config_path: Path, settings: dict, where: str) -> Path:
    folder = config_path.parent
    if settings.get("input_path") is not None:
        folder = folder / str(settings["input_path"])
        if not folder.is_dir():
            raise ConfigurationError(f"{where}: input_path {folder} is not a folder")
    return folder


def _required(settings: dict, key: str, where: str):
    if settings.get(key) is None:
        raise ConfigurationError(f"{where}: {key} is missing")
    return settings[key]


def _mapping(settings: dict, key: str, where: str) -> dict:
    value = settings.get(key, CASE_DEFAULTS.get(key))
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigurationError(f"{where}: {key} must be a mapping, got {value!r}")
    return dict(value)


def _markets(settings: dict, where: str) -> dict[str, dict]:
    markets = _mapping(settings, "markets_config", where)
    if not markets:
        raise ConfigurationError(f"{where}: markets_config is missing or empty")
    for market_id, market in markets.items():
        if not isinstance(market, dict):
            raise ConfigurationError(
                f"{where}: markets_config.{market_id} must be a mapping, got {market!r}"
            )
    return {str(market_id): dict(market) for market_id, market in markets.items()}


def _save_frequency(settings: dict, where: str) -> float | None:
    value = settings.get("save_frequency_hours", CASE_DEFAULTS["save_frequency_hours"])
    if value is None or (isinstance(value, int | float) and value == 0):
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < 0
    ):
        raise ConfigurationError(
            f"{where}: save_frequency_hours must be a positive number of hours, 0 or null, "
            f"got {value!r}"
        )
    return float(value)


def _seed(settings: dict, where: str) -> int | None:
    value = settings.get("seed", CASE_DEFAULTS["seed"])
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise ConfigurationError(f"{where}: seed must be an integer or null, got {value!r}")
    return value


class _InputFiles:
    """Where each file key points: the configured or default file, or None if absent."""

    def __init__(self, folder: Path, settings: dict, where: str):
        self.folder = folder
        self.settings = settings
        self._paths: dict[str, Path | None] = {}
        for key in FILE_KEYS:
            self._paths[key] = self._resolve(key, where)
        for key in _UNSUPPORTED_FILES:
            if settings.get(key) or (key not in settings and (folder / f"{key}.csv").exists()):
                logger.warning("%s: %s is not supported; its units are ignored", where, key)

    def _resolve(self, key: str, where: str) -> Path | None:
        if key not in self.settings:
            default = self.folder / f"{key}.csv"
            return default if default.is_file() else None
        name = self.settings[key]
        if name is None:
            return None
        if not isinstance(name, str) or not name.strip():
            raise ConfigurationError(f"{where}: {key} must be a file name or null, got {name!r}")
        path = self.folder / name
        if not path.is_file():
            raise ConfigurationError(f"{where}: {key} names {path}, which does not exist")
        return path

    def path(self, key: str) -> Path | None:
        return self._paths[key]

    def describe(self, key: str) -> str:
        """The file of ``key`` for a message, saying why it was not read."""
        if self._paths[key] is not None:
            return str(self._paths[key])
        if key in self.settings:
            return f"{key} (disabled by '{key}: null')"
        return f"{self.folder / f'{key}.csv'} (not found)"


def _read_optional(files: _InputFiles, key: str, read) -> dict[str, np.ndarray]:
    path = files.path(key)
    return {} if path is None else read(path)


def _check_unique_names(units: list[UnitSpec], files: _InputFiles) -> None:
    file_of_type = {unit_type: files.path(key) for key, unit_type in UNIT_FILES.items()}
    seen: dict[str, UnitSpec] = {}
    for unit in units:
        other = seen.setdefault(unit.name, unit)
        if other is not unit:
            raise InputDataError(
                f"duplicate unit name {unit.name!r} in files {file_of_type[other.unit_type]} "
                f"and {file_of_type[unit.unit_type]}"
            )


def _attach_series(
    units: list[UnitSpec],
    files: _InputFiles,
    index: TimeIndex,
    fuel_prices: dict[str, np.ndarray],
) -> None:
    """Give each unit its series: availability, and by type demand, exchange or fuel prices."""
    names = [unit.name for unit in units]
    availability_path = files.path("availability_df")
    availability = {}
    if availability_path is not None:
        # a gap in availability means the same as no column: fully available
        availability = read_series(
            availability_path, index, columns=names, fill=1.0, minimum=0.0, maximum=1.0
        )
    full = _frozen(np.ones(index.length))
    zero = _frozen(np.zeros(index.length))
    by_type = {
        t: [u for u in units if u.unit_type == t] for t in ("power_plant", "demand", "exchange")
    }
    demand = _unit_columns(files, "demand_df", index, [(u.name, u.name) for u in by_type["demand"]])
    exchange_columns = [
        (unit.name, f"{unit.name}_{flow}")
        for unit in by_type["exchange"]
        for flow in ("import", "export")
    ]
    exchanges = _unit_columns(files, "exchanges_df", index, exchange_columns)
    for unit in units:
        unit.series["availability"] = (
            _frozen(availability[unit.name]) if unit.name in availability else full
        )
    for unit in by_type["demand"]:
        unit.series["volume"] = _frozen(0.0 - np.abs(demand[unit.name]))
    for unit in by_type["exchange"]:
        unit.series["import"] = _frozen(np.abs(exchanges[f"{unit.name}_import"]))
        unit.series["export"] = _frozen(0.0 - np.abs(exchanges[f"{unit.name}_export"]))
    _attach_fuel_prices(by_type["power_plant"], files, fuel_prices, zero)


def _unit_columns(
    files: _InputFiles, key: str, index: TimeIndex, wanted: list[tuple[str, str]]
) -> dict[str, np.ndarray]:
    """Columns of ``key``'s file that units need; ``wanted`` holds (unit name, column)."""
    if not wanted:
        return {}
    path = files.path(key)
    series = {} if path is None else read_series(path, index, columns=[c for _, c in wanted])
    for unit, column in wanted:
        if column not in series:
            raise InputDataError(
                f"unit {unit!r} needs the column {column!r} in {files.describe(key)}; "
                "expected its power in MW per timestamp"
            )
    return series


# fuel types with no fuel cost: a plant using one is not reported for lacking a fuel price
NO_FUEL_COST = frozenset({"others", "renewable", "renewables", "wind", "solar", "hydro", "water"})


def _attach_fuel_prices(
    plants: list[UnitSpec],
    files: _InputFiles,
    fuel_prices: dict[str, np.ndarray],
    zero: np.ndarray,
) -> None:
    """Fuel and CO2 prices per plant; a fuel without a price costs 0, as in ASSUME 0.6.0."""
    unpriced: dict[str, list[str]] = {}
    co2_needed = []
    for plant in plants:
        fuel = str(plant.params.get("fuel_type") or "others")
        if fuel not in fuel_prices and fuel not in NO_FUEL_COST:
            unpriced.setdefault(fuel, []).append(plant.name)
        if "co2" not in fuel_prices and (plant.params.get("emission_factor") or 0) > 0:
            co2_needed.append(plant.name)
        plant.series["fuel_price"] = fuel_prices.get(fuel, zero)
        plant.series["co2_price"] = fuel_prices.get("co2", zero)
    source = files.describe("fuel_prices_df")
    for fuel, plants_without in unpriced.items():
        logger.warning(
            "fuel %r of %s has no price in %s; its fuel price is taken as 0",
            fuel,
            ", ".join(plants_without),
            source,
        )
    if co2_needed:
        logger.warning(
            "%s has no 'co2' column; the CO2 price for %s is taken as 0",
            source,
            ", ".join(co2_needed),
        )


def _operator_bidding(files: _InputFiles, markets: dict[str, dict]) -> dict[str, dict[str, str]]:
    """Portfolio strategies per units operator from unit_operators.csv (bidding_<market>)."""
    path = files.path("unit_operators")
    if path is None:
        return {}
    table: Table = read_table(path, index_label="unit operator")
    bidding = {operator: {} for operator in table.index}
    for column in table.columns:
        market = column.removeprefix("bidding_")
        if market == column:
            continue
        if market not in markets:
            logger.warning("%s: column %r names no market of the case; ignored", path, column)
            continue
        for operator, strategy in zip(table.index, table.strings(column), strict=True):
            if strategy:
                bidding[operator][market] = strategy
    return bidding


def _frozen(values: np.ndarray) -> np.ndarray:
    values = np.ascontiguousarray(values, dtype=np.float64)
    values.flags.writeable = False
    return values
