"""Write a synthetic benchmark scenario in ASSUME's input-folder format.

    python benchmarks/generate_scenario.py --plants N --operators M --days D --output DIR \\
        [--name NAME] [--start 2019-01-01] [--storages K] [--storage-strategy NAME] \\
        [--market {eom,dam}] [--optimized-foresight DURATION] [--soc-steps K]

The folder ``DIR/NAME`` (default name ``bench_{N}p_{M}o_{D}d``) holds one hourly energy-only market
(EOM, pay_as_clear, as in examples/inputs/example_01), N naive power plants with spread-out marginal
costs assigned round-robin to M unit operators, and one inflexible demand whose hourly series peaks
at 80 % of the total capacity, so every hour clears. Deterministic: the same arguments always give
byte-identical files.

``--storages K`` adds K storages (10-100 MW, 2-8 h, 85-95 % efficient each way, half full) with
the bidding strategy ``--storage-strategy`` (default storage_energy_optimized), assigned
round-robin to the same operators; their parameters come from a random stream of their own, so
plants and demand are the same with and without them. ``--market dam`` replaces the hourly market
by a day-ahead market (DAM): one opening a day, 24 hourly products from 24 h after the opening,
so the first simulated day is not traded. Either option adds ``_{K}s`` / ``_dam`` to the default
folder name. ``--optimized-foresight`` and ``--soc-steps`` set the study case's
``bidding_strategy_params`` of the optimising strategies (without them the strategies' defaults,
24h and 101 levels, apply and config.yaml has no such section).
"""

from __future__ import annotations

import argparse
import csv
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

SEED = 42

FUEL_PRICES = {
    "uranium": 1.0,
    "lignite": 2.0,
    "hard coal": 10.3,
    "natural gas": 25.5,
    "oil": 40.0,
    "co2": 25.0,
}

# technology -> (fuel_type, emission_factor t/MWh thermal, efficiency range, additional_cost range)
TECHNOLOGIES = {
    "nuclear": ("uranium", 0.0, (0.31, 0.35), (8.0, 12.0)),
    "lignite": ("lignite", 0.406, (0.33, 0.43), (3.0, 6.0)),
    "hard coal": ("hard coal", 0.335, (0.35, 0.46), (2.0, 5.0)),
    "combined cycle gas turbine": ("natural gas", 0.202, (0.50, 0.60), (1.5, 3.5)),
    "gas turbine": ("natural gas", 0.202, (0.30, 0.40), (2.0, 5.0)),
    "oil": ("oil", 0.267, (0.30, 0.38), (3.0, 7.0)),
}

PEAK_SHARE = 0.8

CONFIG_TEMPLATE = """\
base:
  start_date: {start}
  end_date: {end}
  time_step: 1h
  save_frequency_hours: 48  # ASSUME's default; results are written while the run goes on
  markets_config:
    EOM:
      operator: EOM_operator
      product_type: energy
      products:
        - duration: 1h
          count: 1
          first_delivery: 1h
      opening_frequency: 1h
      opening_duration: 1h
      volume_unit: MWh
      maximum_bid_volume: 100000
      maximum_bid_price: 3000
      minimum_bid_price: -500
      price_unit: EUR/MWh
      market_mechanism: pay_as_clear
"""

DAY_AHEAD_TEMPLATE = """\
base:
  start_date: {start}
  end_date: {end}
  time_step: 1h
  save_frequency_hours: 48  # ASSUME's default; results are written while the run goes on
  markets_config:
    DAM:
      operator: DAM_operator
      product_type: energy
      products:
        - duration: 1h
          count: 24
          first_delivery: 24h
      opening_frequency: 24h
      opening_duration: 1h
      volume_unit: MWh
      maximum_bid_volume: 100000
      maximum_bid_price: 3000
      minimum_bid_price: -500
      price_unit: EUR/MWh
      market_mechanism: pay_as_clear
"""

MARKETS = {"eom": ("EOM", CONFIG_TEMPLATE), "dam": ("DAM", DAY_AHEAD_TEMPLATE)}
STORAGE_STRATEGY = "storage_energy_optimized"


def _write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def power_plant_rows(plants: int, operators: int, rng: np.random.Generator) -> list[list[object]]:
    """One ``powerplant_units.csv`` row per plant: random technology, size and efficiency."""
    names = list(TECHNOLOGIES)
    width = len(str(plants))
    rows = []
    for i in range(plants):
        technology = names[int(rng.integers(len(names)))]
        fuel_type, emission_factor, efficiency_range, cost_range = TECHNOLOGIES[technology]
        rows.append(
            [
                f"plant_{i + 1:0{width}d}",
                technology,
                "powerplant_energy_naive",
                fuel_type,
                emission_factor,
                int(rng.integers(10, 101)) * 10,
                0,
                round(float(rng.uniform(*efficiency_range)), 3),
                round(float(rng.uniform(*cost_range)), 2),
                f"Operator {i % operators + 1}",
            ]
        )
    return rows


def storage_rows(
    storages: int, operators: int, strategy: str, rng: np.random.Generator
) -> list[list[object]]:
    """One ``storage_units.csv`` row per storage: random power, duration and efficiencies."""
    width = len(str(storages))
    rows = []
    for i in range(storages):
        power = int(rng.integers(1, 11)) * 10
        rows.append(
            [
                f"storage_{i + 1:0{width}d}",
                "battery",
                strategy,
                power,
                power,
                power * int(rng.integers(2, 9)),
                round(float(rng.uniform(0.85, 0.95)), 3),
                round(float(rng.uniform(0.85, 0.95)), 3),
                0.5,
                f"Operator {i % operators + 1}",
            ]
        )
    return rows


def demand_series(start: datetime, hours: int, peak: float, rng: np.random.Generator) -> np.ndarray:
    """Hourly demand in MW with a daily and weekly shape, at most ``peak`` times 1.03."""
    times = [start + timedelta(hours=h) for h in range(hours)]
    hour = np.array([t.hour for t in times], dtype=float)
    daily = 0.62 + 0.28 * np.exp(-0.5 * ((hour - 11.5) / 3.0) ** 2)
    daily += 0.36 * np.exp(-0.5 * ((hour - 18.5) / 2.0) ** 2)
    weekday_factor = np.array([1.0, 1.0, 1.0, 1.0, 0.98, 0.87, 0.80])
    shape = daily * weekday_factor[[t.weekday() for t in times]]
    noise = 1 + 0.01 * np.clip(rng.standard_normal(hours), -3, 3)
    return peak * shape / shape.max() * noise


def bidding_strategy_params(optimized_foresight: str | None, soc_steps: int | None) -> str:
    """The study case's ``bidding_strategy_params`` section as YAML lines ("" if none is set)."""
    params = {"optimized_foresight": optimized_foresight, "soc_steps": soc_steps}
    lines = [f"    {key}: {value}\n" for key, value in params.items() if value is not None]
    return "  bidding_strategy_params:\n" + "".join(lines) if lines else ""


def generate(
    plants: int,
    operators: int,
    days: int,
    output: str | Path,
    name: str | None = None,
    start: str = "2019-01-01",
    storages: int = 0,
    storage_strategy: str = STORAGE_STRATEGY,
    market: str = "eom",
    optimized_foresight: str | None = None,
    soc_steps: int | None = None,
) -> Path:
    """Write the scenario folder ``output/name`` and return its path."""
    if plants < 1 or operators < 1 or days < 1:
        raise ValueError("plants, operators and days must each be at least 1")
    if operators > plants:
        raise ValueError(f"{operators} operators for {plants} plants would leave operators empty")
    if storages < 0:
        raise ValueError("storages must not be negative")
    if market not in MARKETS:
        raise ValueError(f"unknown market {market!r}; known: {', '.join(MARKETS)}")
    if soc_steps is not None and soc_steps < 2:
        raise ValueError(f"soc_steps must be at least 2, got {soc_steps}")
    market_id, template = MARKETS[market]
    default_name = f"bench_{plants}p_{operators}o_{days}d"
    default_name += (f"_{storages}s" if storages else "") + ("_dam" if market == "dam" else "")
    folder = Path(output) / (name or default_name)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    begin = datetime.fromisoformat(start)
    end = begin + timedelta(days=days)

    (folder / "config.yaml").write_text(
        template.format(start=begin.strftime("%Y-%m-%d %H:%M"), end=end.strftime("%Y-%m-%d %H:%M"))
        + bidding_strategy_params(optimized_foresight, soc_steps),
        encoding="utf-8",
    )

    plant_rows = power_plant_rows(plants, operators, rng)
    _write_csv(
        folder / "powerplant_units.csv",
        [
            "name",
            "technology",
            f"bidding_{market_id}",
            "fuel_type",
            "emission_factor",
            "max_power",
            "min_power",
            "efficiency",
            "additional_cost",
            "unit_operator",
        ],
        plant_rows,
    )
    _write_csv(
        folder / "demand_units.csv",
        [
            "name",
            "technology",
            f"bidding_{market_id}",
            "max_power",
            "min_power",
            "price",
            "unit_operator",
        ],
        [
            [
                f"demand_{market_id}",
                "inflex_demand",
                "demand_energy_naive",
                1000000,
                0,
                3000,
                "eom_de",
            ]
        ],
    )
    if storages:
        _write_csv(
            folder / "storage_units.csv",
            [
                "name",
                "technology",
                f"bidding_{market_id}",
                "max_power_charge",
                "max_power_discharge",
                "capacity",
                "efficiency_charge",
                "efficiency_discharge",
                "initial_soc",
                "unit_operator",
            ],
            storage_rows(storages, operators, storage_strategy, np.random.default_rng(SEED + 1)),
        )

    # the index runs from start to end inclusive
    hours = days * 24 + 1
    total_capacity = float(sum(row[5] for row in plant_rows))
    demand = demand_series(begin, hours, PEAK_SHARE * total_capacity, rng)
    _write_csv(
        folder / "demand_df.csv",
        ["datetime", f"demand_{market_id}"],
        [
            [(begin + timedelta(hours=h)).strftime("%Y-%m-%d %H:%M:%S"), f"{demand[h]:.1f}"]
            for h in range(hours)
        ],
    )
    _write_csv(
        folder / "fuel_prices_df.csv",
        ["fuel", *FUEL_PRICES],
        [["price", *FUEL_PRICES.values()]],
    )
    return folder


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point: print the written folder."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plants", type=int, required=True, help="number of power plants")
    parser.add_argument("--operators", type=int, required=True, help="number of unit operators")
    parser.add_argument("--days", type=int, required=True, help="simulated days")
    parser.add_argument("--output", type=Path, required=True, help="folder for the scenario")
    parser.add_argument(
        "--name", help="scenario folder name (default bench_{N}p_{M}o_{D}d[_{K}s][_dam])"
    )
    parser.add_argument("--start", default="2019-01-01", help="first simulated day (ISO date)")
    parser.add_argument("--storages", type=int, default=0, help="number of storages (default 0)")
    parser.add_argument(
        "--storage-strategy",
        default=STORAGE_STRATEGY,
        help=f"bidding strategy of the storages (default {STORAGE_STRATEGY})",
    )
    parser.add_argument(
        "--market",
        choices=sorted(MARKETS),
        default="eom",
        help="eom: hourly energy-only market (default); dam: day-ahead market, 24 hourly products",
    )
    parser.add_argument(
        "--optimized-foresight",
        metavar="DURATION",
        help="foresight of the optimising strategies, such as 168h (default: theirs, 24h)",
    )
    parser.add_argument(
        "--soc-steps",
        type=int,
        help="state-of-charge levels of storage_energy_optimized (default: its own, 101)",
    )
    args = parser.parse_args(argv)
    try:
        folder = generate(
            args.plants,
            args.operators,
            args.days,
            args.output,
            args.name,
            args.start,
            args.storages,
            args.storage_strategy,
            args.market,
            args.optimized_foresight,
            args.soc_steps,
        )
    except ValueError as error:
        parser.error(str(error))
    print(folder)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
