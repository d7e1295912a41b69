"""Write the example scenarios in ASSUME's input-folder format.

    python examples/generate_inputs.py [--output examples/inputs]

- ``example_01``: one week of an hourly energy-only market (EOM) with twelve thermal plants of
  four operators, wind, solar and one inflexible demand. Cases ``base`` (pay_as_clear) and
  ``pay_as_bid``.
- ``example_02``: two weeks of a day-ahead market (DAM, one daily auction for the 24 hours of the
  next day) with a pumped-hydro storage, an interconnector (exchange unit), a 15-minute demand
  series and daily fuel prices. Cases ``dam`` and ``dam_naive`` (the same without the storage).

The output is deterministic (fixed seeds, no clock): re-running reproduces byte-identical files.
"""

from __future__ import annotations

import argparse
import csv
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "inputs"

# ASSUME's classic example prices: fuels in EUR/MWh thermal, co2 in EUR/t
FUEL_PRICES = {
    "uranium": 1.0,
    "lignite": 2.0,
    "hard coal": 10.3,
    "natural gas": 25.5,
    "oil": 40.0,
    "co2": 25.0,
}

POWERPLANT_COLUMNS = [
    "name",
    "technology",
    "bidding_{market}",
    "fuel_type",
    "emission_factor",
    "max_power",
    "min_power",
    "efficiency",
    "additional_cost",
    "ramp_up",
    "ramp_down",
    "unit_operator",
]

# technology -> (fuel_type, emission_factor in t CO2 per MWh thermal)
TECHNOLOGIES = {
    "nuclear": ("uranium", 0.0),
    "lignite": ("lignite", 0.406),
    "hard coal": ("hard coal", 0.335),
    "combined cycle gas turbine": ("natural gas", 0.202),
    "gas turbine": ("natural gas", 0.202),
    "oil": ("oil", 0.267),
    "wind onshore": ("renewable", 0.0),
    "solar": ("renewable", 0.0),
}

# name, technology, max_power, min_power, efficiency, additional_cost,
# ramp (MW per hour up and down, None = unlimited), unit_operator
EXAMPLE_01_PLANTS = [
    ("nuclear_1", "nuclear", 1400, 500, 0.33, 10.0, None, "Operator 1"),
    ("nuclear_2", "nuclear", 1300, 500, 0.33, 10.5, None, "Operator 2"),
    ("lignite_1", "lignite", 1000, 400, 0.38, 4.0, 300, "Operator 1"),
    ("lignite_2", "lignite", 900, 350, 0.36, 4.0, 250, "Operator 3"),
    ("hard_coal_1", "hard coal", 800, 250, 0.42, 3.0, None, "Operator 2"),
    ("hard_coal_2", "hard coal", 700, 200, 0.40, 3.0, 350, "Operator 4"),
    ("hard_coal_3", "hard coal", 600, 200, 0.38, 3.0, None, "Operator 3"),
    ("ccgt_1", "combined cycle gas turbine", 800, 300, 0.58, 2.0, None, "Operator 1"),
    ("ccgt_2", "combined cycle gas turbine", 600, 250, 0.55, 2.0, None, "Operator 4"),
    ("gas_turbine_1", "gas turbine", 400, 0, 0.38, 3.0, None, "Operator 2"),
    ("gas_turbine_2", "gas turbine", 300, 0, 0.35, 3.0, None, "Operator 3"),
    ("oil_1", "oil", 350, 0, 0.35, 5.0, None, "Operator 4"),
]
EXAMPLE_01_RENEWABLES = [
    ("wind_1", "wind onshore", 2500, 0, 1.0, 0.0, None, "Operator 3"),
    ("solar_1", "solar", 1500, 0, 1.0, 0.0, None, "Operator 4"),
]

EXAMPLE_02_PLANTS = [
    ("nuclear_1", "nuclear", 1400, 500, 0.33, 10.0, None, "Operator 1"),
    ("lignite_1", "lignite", 1000, 400, 0.38, 4.0, 300, "Operator 1"),
    ("lignite_2", "lignite", 900, 350, 0.36, 4.0, 250, "Operator 2"),
    ("hard_coal_1", "hard coal", 800, 250, 0.42, 3.0, None, "Operator 2"),
    ("hard_coal_2", "hard coal", 700, 200, 0.40, 3.0, 350, "Operator 3"),
    ("ccgt_1", "combined cycle gas turbine", 800, 300, 0.58, 2.0, None, "Operator 3"),
    ("ccgt_2", "combined cycle gas turbine", 600, 250, 0.55, 2.0, None, "Operator 4"),
    ("gas_turbine_1", "gas turbine", 400, 0, 0.38, 3.0, None, "Operator 1"),
    ("gas_turbine_2", "gas turbine", 300, 0, 0.35, 3.0, None, "Operator 4"),
    ("oil_1", "oil", 350, 0, 0.35, 5.0, None, "Operator 2"),
]
EXAMPLE_02_RENEWABLES = [
    ("wind_1", "wind onshore", 3000, 0, 1.0, 0.0, None, "Operator 3"),
    ("solar_1", "solar", 2000, 0, 1.0, 0.0, None, "Operator 4"),
]

# Peak demand as a share of the thermal (dispatchable) capacity, so that the load is always served.
# example_02 runs hotter, so that peakers, imports and the storage have hours to matter.
EXAMPLE_01_PEAK_SHARE = 0.8
EXAMPLE_02_PEAK_SHARE = 0.9


# ----------------------------------------------------------------------------------------------
# writing


def write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Write one CSV table with "\\n" line ends; None becomes an empty field."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow(["" if value is None else value for value in row])


def write_series(
    path: Path, times: Sequence[datetime], columns: dict[str, np.ndarray], decimals: int
) -> None:
    """Write a time series table indexed by ``datetime``, values with a fixed number of decimals."""
    header = ["datetime", *columns]
    rows = [
        [
            time.strftime("%Y-%m-%d %H:%M:%S"),
            *(f"{values[i]:.{decimals}f}" for values in columns.values()),
        ]
        for i, time in enumerate(times)
    ]
    write_csv(path, header, rows)


def to_yaml(value: object, indent: int = 0) -> str:
    """Render nested dicts, lists and scalars as block-style YAML (the subset config.yaml needs)."""
    pad = " " * indent
    if isinstance(value, dict):
        lines = []
        for key, item in value.items():
            if isinstance(item, dict | list) and item:
                lines.append(f"{pad}{key}:\n{to_yaml(item, indent + 2)}")
            else:
                lines.append(f"{pad}{key}: {_yaml_scalar(item)}")
        return "\n".join(lines)
    if isinstance(value, list):
        lines = []
        for item in value:
            # a mapping in a list: its first key goes on the dash line, the others below it
            text = to_yaml(item, indent + 2)
            lines.append(f"{pad}- {text[indent + 2 :]}")
        return "\n".join(lines)
    return f"{pad}{_yaml_scalar(value)}"


def _yaml_scalar(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return "{}" if isinstance(value, dict) else "[]"
    return str(value)


def write_config(path: Path, cases: dict[str, dict]) -> None:
    """Write ``config.yaml``: study-case name -> case settings."""
    path.write_text(to_yaml(cases) + "\n", encoding="utf-8")


def write_powerplants(path: Path, market_id: str, plants: Sequence[tuple]) -> None:
    """Write ``powerplant_units.csv``: every plant bids naively on ``market_id``."""
    header = [column.format(market=market_id) for column in POWERPLANT_COLUMNS]
    rows = []
    for name, technology, max_power, min_power, efficiency, cost, ramp, operator in plants:
        fuel_type, emission_factor = TECHNOLOGIES[technology]
        rows.append(
            [
                name,
                technology,
                "powerplant_energy_naive",
                fuel_type,
                emission_factor,
                max_power,
                min_power,
                efficiency,
                cost,
                ramp,
                ramp,
                operator,
            ]
        )
    write_csv(path, header, rows)


def write_single_row_fuel_prices(path: Path, prices: dict[str, float]) -> None:
    """Write ``fuel_prices_df.csv`` in the constant form: index ``fuel``, one row ``price``."""
    write_csv(path, ["fuel", *prices], [["price", *prices.values()]])


# ----------------------------------------------------------------------------------------------
# profiles (arrays in, arrays out)


def time_range(start: datetime, end: datetime, step: timedelta) -> list[datetime]:
    """Times from ``start`` to ``end`` inclusive at ``step``."""
    count = int((end - start) / step) + 1
    return [start + i * step for i in range(count)]


def hours_of_day(times: Sequence[datetime]) -> np.ndarray:
    """Fractional hour of day (0 <= h < 24) of each time."""
    return np.array([t.hour + t.minute / 60 for t in times])


def demand_shape(times: Sequence[datetime]) -> np.ndarray:
    """Relative load (max 1): night trough, late-morning plateau, evening peak, quieter weekends."""
    hours = hours_of_day(times)

    def bump(centre: float, width: float) -> np.ndarray:
        distance = (hours - centre + 12) % 24 - 12
        return np.exp(-0.5 * (distance / width) ** 2)

    daily = 0.62 + 0.28 * bump(11.5, 3.0) + 0.36 * bump(18.5, 2.0)
    weekday_factor = np.array([1.0, 1.0, 1.0, 1.0, 0.98, 0.87, 0.80])
    weekly = weekday_factor[[t.weekday() for t in times]]
    shape = daily * weekly
    return shape / shape.max()


def demand_series(times: Sequence[datetime], peak: float, rng: np.random.Generator) -> np.ndarray:
    """Demand in MW: ``peak`` times the demand shape, with 1 % multiplicative noise."""
    noise = 1 + 0.01 * rng.standard_normal(len(times))
    return peak * demand_shape(times) * noise


def wind_availability(count: int, rng: np.random.Generator) -> np.ndarray:
    """Hourly wind availability: a persistent AR(1) weather process through a logistic curve."""
    persistence = 0.95
    innovations = rng.standard_normal(count) * np.sqrt(1 - persistence**2)
    weather = np.empty(count)
    weather[0] = innovations[0] / np.sqrt(1 - persistence**2)
    for i in range(1, count):
        weather[i] = persistence * weather[i - 1] + innovations[i]
    # about 35 % mean load factor, calm spells near 2 %, storms near 85 %
    return 0.9 / (1 + np.exp(-1.6 * (weather - 0.4)))


def solar_availability(times: Sequence[datetime], rng: np.random.Generator) -> np.ndarray:
    """Hourly solar availability: a daylight arc as long as the season's day, daily cloudiness."""
    hours = hours_of_day(times)
    day_of_year = np.array([t.timetuple().tm_yday for t in times])
    # central Europe: about 8 h of daylight in midwinter, 16 h in midsummer, solar noon ~12 UTC
    daylight = 12 + 4 * np.sin(2 * np.pi * (day_of_year - 80) / 365)
    arc = np.clip(np.cos(np.pi * (hours - 12) / daylight), 0, None)
    peak_height = 0.45 + 0.25 * np.sin(2 * np.pi * (day_of_year - 80) / 365)
    days = np.array([(t.date() - times[0].date()).days for t in times])
    clearness = rng.uniform(0.3, 1.0, days.max() + 1)[days]
    return arc**1.5 * peak_height * clearness


def hold_daily(times: Sequence[datetime], daily_values: np.ndarray) -> np.ndarray:
    """Repeat one value per calendar day over the times of that day."""
    days = np.array([(t.date() - times[0].date()).days for t in times])
    return daily_values[days]


# ----------------------------------------------------------------------------------------------
# scenarios


def eom_market(mechanism: str) -> dict:
    """The hourly energy-only market: each hour sells the next hour."""
    return {
        "operator": "EOM_operator",
        "product_type": "energy",
        "products": [{"duration": "1h", "count": 1, "first_delivery": "1h"}],
        "opening_frequency": "1h",
        "opening_duration": "1h",
        "volume_unit": "MWh",
        "maximum_bid_volume": 100000,
        "maximum_bid_price": 3000,
        "minimum_bid_price": -500,
        "price_unit": "EUR/MWh",
        "market_mechanism": mechanism,
    }


def dam_market() -> dict:
    """The day-ahead market: opens daily at 00:00, clears at 01:00 the 24 hours of the next day."""
    return {
        "operator": "DAM_operator",
        "product_type": "energy",
        "products": [{"duration": "1h", "count": 24, "first_delivery": "24h"}],
        "opening_frequency": "24h",
        "opening_duration": "1h",
        "volume_unit": "MWh",
        "maximum_bid_volume": 100000,
        "maximum_bid_price": 3000,
        "minimum_bid_price": -500,
        "price_unit": "EUR/MWh",
        "market_mechanism": "pay_as_clear",
    }


def thermal_capacity(plants: Sequence[tuple]) -> float:
    """Sum of max_power of the plants."""
    return float(sum(plant[2] for plant in plants))


def write_example_01(folder: Path) -> None:
    """One week, hourly EOM, thermal fleet + wind + solar + one demand, constant fuel prices."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(20190101)
    start, end = datetime(2019, 1, 1), datetime(2019, 1, 8)
    hourly = time_range(start, end, timedelta(hours=1))

    case = {
        "start_date": start.strftime("%Y-%m-%d %H:%M"),
        "end_date": end.strftime("%Y-%m-%d %H:%M"),
        "time_step": "1h",
        "save_frequency_hours": 24,
        "markets_config": {"EOM": eom_market("pay_as_clear")},
    }
    pay_as_bid = {**case, "markets_config": {"EOM": eom_market("pay_as_bid")}}
    write_config(folder / "config.yaml", {"base": case, "pay_as_bid": pay_as_bid})

    write_powerplants(
        folder / "powerplant_units.csv", "EOM", EXAMPLE_01_PLANTS + EXAMPLE_01_RENEWABLES
    )
    peak = EXAMPLE_01_PEAK_SHARE * thermal_capacity(EXAMPLE_01_PLANTS)
    write_csv(
        folder / "demand_units.csv",
        ["name", "technology", "bidding_EOM", "max_power", "min_power", "price", "unit_operator"],
        [["demand_EOM", "inflex_demand", "demand_energy_naive", 1000000, 0, 3000, "eom_de"]],
    )
    write_series(
        folder / "demand_df.csv", hourly, {"demand_EOM": demand_series(hourly, peak, rng)}, 1
    )
    write_series(
        folder / "availability_df.csv",
        hourly,
        {"wind_1": wind_availability(len(hourly), rng), "solar_1": solar_availability(hourly, rng)},
        3,
    )
    write_single_row_fuel_prices(folder / "fuel_prices_df.csv", FUEL_PRICES)


def write_example_02(folder: Path) -> None:
    """Two weeks of a day-ahead market: storage, exchange, 15-min demand, daily fuel prices."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(20190301)
    start, end = datetime(2019, 3, 1), datetime(2019, 3, 15)
    hourly = time_range(start, end, timedelta(hours=1))
    # the 15-minute series covers the whole last hour, so its hourly mean has four values
    quarter_hourly = time_range(start, end + timedelta(minutes=45), timedelta(minutes=15))

    case = {
        "start_date": start.strftime("%Y-%m-%d %H:%M"),
        "end_date": end.strftime("%Y-%m-%d %H:%M"),
        "time_step": "1h",
        "save_frequency_hours": 24,
        "markets_config": {"DAM": dam_market()},
    }
    write_config(
        folder / "config.yaml", {"dam": case, "dam_naive": {**case, "storage_units": None}}
    )

    write_powerplants(
        folder / "powerplant_units.csv", "DAM", EXAMPLE_02_PLANTS + EXAMPLE_02_RENEWABLES
    )
    write_csv(
        folder / "storage_units.csv",
        [
            "name",
            "technology",
            "bidding_DAM",
            "max_power_charge",
            "max_power_discharge",
            "efficiency_charge",
            "efficiency_discharge",
            "min_soc",
            "max_soc",
            "capacity",
            "initial_soc",
            "additional_cost_charge",
            "additional_cost_discharge",
            "unit_operator",
        ],
        [
            [
                "pumped_hydro",
                "PSPP",
                "storage_energy_heuristic_flexable",
                500,
                500,
                0.85,
                0.9,
                0,
                1,
                4000,
                0.5,
                0.5,
                0.5,
                "Operator 5",
            ]
        ],
    )
    write_csv(
        folder / "exchange_units.csv",
        ["name", "bidding_DAM", "price_import", "price_export", "unit_operator"],
        [["de_exchange", "exchange_energy_naive", 60, 40, "exchange_operator"]],
    )
    write_csv(
        folder / "demand_units.csv",
        ["name", "technology", "bidding_DAM", "max_power", "min_power", "price", "unit_operator"],
        [["demand_DAM", "inflex_demand", "demand_energy_naive", 1000000, 0, 3000, "dam_de"]],
    )

    peak = EXAMPLE_02_PEAK_SHARE * thermal_capacity(EXAMPLE_02_PLANTS)
    write_series(
        folder / "demand_df.csv",
        quarter_hourly,
        {"demand_DAM": demand_series(quarter_hourly, peak, rng)},
        1,
    )
    write_series(
        folder / "availability_df.csv",
        hourly,
        {"wind_1": wind_availability(len(hourly), rng), "solar_1": solar_availability(hourly, rng)},
        3,
    )
    # interconnector capacity left for trade: more import room at night, more export room by day
    hours = hours_of_day(hourly)
    import_capacity = (
        600 + 200 * np.cos(2 * np.pi * hours / 24) + 50 * rng.standard_normal(len(hourly))
    )
    export_capacity = (
        400 - 150 * np.cos(2 * np.pi * hours / 24) + 50 * rng.standard_normal(len(hourly))
    )
    write_series(
        folder / "exchanges_df.csv",
        hourly,
        {
            "de_exchange_import": np.clip(import_capacity, 0, None),
            "de_exchange_export": np.clip(export_capacity, 0, None),
        },
        1,
    )
    # daily fuel prices as a random walk around the constant prices, held for every hour of the day
    # (series are never upsampled; ASSUME 0.6.0 even fails on a file with one row per day)
    days = (end - start).days + 1
    fuel_prices = {}
    for fuel, price in FUEL_PRICES.items():
        daily_change = 1 + 0.02 * rng.standard_normal(days)
        daily_change[0] = 1
        fuel_prices[fuel] = hold_daily(hourly, price * np.cumprod(daily_change))
    write_series(folder / "fuel_prices_df.csv", hourly, fuel_prices, 2)


def generate(output: Path = DEFAULT_OUTPUT) -> list[Path]:
    """Write both example scenario folders below ``output`` and return their paths."""
    output = Path(output)
    folders = [output / "example_01", output / "example_02"]
    write_example_01(folders[0])
    write_example_02(folders[1])
    return folders


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--output",
        type=Path,
        default=DEFAULT_OUTPUT,
        help="folder that receives the scenario folders",
    )
    args = parser.parse_args(argv)
    for folder in generate(args.output):
        print(folder)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
