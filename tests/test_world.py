"""The World API and whole one-process runs."""

import csv
import logging
import sqlite3
import time

import numpy as np
import pytest

from assume import MarketConfig, MarketProduct, World
from assume.errors import ConfigurationError, SimulationError
from assume.lookahead import ahead
from assume.strategies import register_strategy
from assume.strategies.naive import EnergyNaiveStrategy

HOUR = MarketConfig("EOM", [MarketProduct(3600, 1, 3600)], 3600, 3600, maximum_bid_volume=1e5)


def small_world(tmp_path, simulation_id="small", **world_args):
    world = World(export_csv_path=str(tmp_path), **world_args)
    world.setup("2019-01-01 00:00", "2019-01-02 00:00", simulation_id, time_step="1h")
    world.add_market_operator("market_operator")
    world.add_market("market_operator", HOUR)
    world.add_unit_operator("plants")
    for name, cost in (("cheap", 10.0), ("middle", 20.0), ("dear", 30.0)):
        world.add_unit(
            name,
            "power_plant",
            "plants",
            {"max_power": 500, "additional_cost": cost},
            bidding_strategies={"EOM": "powerplant_energy_naive"},
        )
    world.add_unit_operator("consumers")
    demand = -np.linspace(200, 1400, world.index.length)
    world.add_unit(
        "city",
        "demand",
        "consumers",
        {"price": 3000},
        series={"volume": demand},
        bidding_strategies={"EOM": "demand_energy_naive"},
    )
    return world


def read(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_run_writes_every_product_and_every_dispatch_step(tmp_path):
    world = small_world(tmp_path)
    result = world.run()
    # every simulation message sent was handled
    assert result["messages_sent"] == result["messages_handled"] > 23 * 4
    meta = read(tmp_path / "small" / "market_meta.csv")
    # openings 00:00 .. 22:00; the 23:00 opening's product would end after the horizon
    assert len(meta) == 23
    assert meta[0]["product_start"] == "2019-01-01 01:00:00"
    assert meta[-1]["product_end"] == "2019-01-02 00:00:00"
    demand = np.linspace(200, 1400, 25)
    for row in meta:
        step = (
            (int(row["product_start"][11:13]) or 24) if row["product_start"][8:10] == "01" else 24
        )
        wanted = demand[step]
        expected_price = 10.0 if wanted <= 500 else 20.0 if wanted <= 1000 else 30.0
        assert float(row["price"]) == expected_price
        assert float(row["demand_volume"]) == pytest.approx(wanted)
    dispatch = read(tmp_path / "small" / "unit_dispatch.csv")
    times = sorted({row["time"] for row in dispatch})
    assert times[0] == "2019-01-01 00:00:00" and times[-1] == "2019-01-02 00:00:00"
    assert len(dispatch) == 25 * 4
    cheap = {r["time"]: float(r["power"]) for r in dispatch if r["unit"] == "cheap"}
    assert cheap["2019-01-01 01:00:00"] == pytest.approx(250.0)
    assert cheap["2019-01-01 23:00:00"] == 500.0
    kpis = {
        (r["variable"], r["ident"]): float(r["value"])
        for r in read(tmp_path / "small" / "kpis.csv")
    }
    assert kpis[("total_volume", "EOM")] == pytest.approx(demand[1:24].sum())


def test_same_scenario_gives_byte_identical_results(tmp_path):
    small_world(tmp_path / "a").run()
    small_world(tmp_path / "b").run()
    for table in ("market_meta", "market_orders", "market_dispatch", "unit_dispatch"):
        first = (tmp_path / "a" / "small" / f"{table}.csv").read_bytes()
        assert first == (tmp_path / "b" / "small" / f"{table}.csv").read_bytes()


def test_sqlite_output(tmp_path):
    database = tmp_path / "results.db"
    world = small_world(tmp_path, database_uri=f"sqlite:///{database}")
    world.run()
    with sqlite3.connect(database) as connection:
        count = connection.execute("select count(*) from market_meta").fetchone()[0]
        prices = connection.execute("select min(price), max(price) from market_meta").fetchone()
    assert count == 23
    assert prices == (10.0, 30.0)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda w: w.add_unit_operator("plants"), "duplicate agent id 'plants'"),
        (lambda w: w.add_market_operator("plants"), "duplicate agent id 'plants'"),
        (
            lambda w: w.add_market("nobody", HOUR),
            "unknown market operator 'nobody'; known: market_operator",
        ),
        (lambda w: w.add_market("market_operator", HOUR), "duplicate market id 'EOM'"),
        (
            lambda w: w.add_unit("x", "windmill", "plants", {}),
            "unknown unit type .windmill.; known unit types: "
            "demand, exchange, power_plant, storage",
        ),
        (
            lambda w: w.add_unit("cheap", "power_plant", "plants", {"max_power": 1}),
            "duplicate unit id 'cheap'",
        ),
        (
            lambda w: w.add_unit("x", "power_plant", "ghosts", {"max_power": 1}),
            "unknown unit operator 'ghosts'",
        ),
        (
            lambda w: w.add_unit(
                "x", "power_plant", "plants", {"max_power": 1}, bidding_strategies={"EOM": "magic"}
            ),
            "unknown bidding strategy 'magic'; known strategies: .*powerplant_energy_naive",
        ),
        (
            lambda w: w.add_unit(
                "x",
                "power_plant",
                "plants",
                {"max_power": 1},
                bidding_strategies={"DAM": "powerplant_energy_naive"},
            ),
            "bids on unknown market 'DAM'; known markets: EOM",
        ),
        (
            lambda w: w.add_unit(
                "x",
                "power_plant",
                "plants",
                {"max_power": 1},
                bidding_strategies={"EOM": "exchange_energy_naive"},
            ),
            "does not fit unit type 'power_plant'",
        ),
        (
            lambda w: w.add_unit("x", "power_plant", "plants", {}),
            "missing required parameter 'max_power'",
        ),
        (
            lambda w: w.add_unit("x", "power_plant", "plants", {"max_power": "lots"}),
            "'max_power' must be a number",
        ),
    ],
)
def test_api_errors_name_the_culprit(tmp_path, call, message):
    world = small_world(tmp_path)
    with pytest.raises(ConfigurationError, match=message):
        call(world)


def test_add_before_setup_is_an_error():
    world = World()
    world.add_market_operator("market_operator")
    with pytest.raises(ConfigurationError, match="setup"):
        world.add_market("market_operator", HOUR)


class FailingStrategy(EnergyNaiveStrategy):
    """Bids normally until noon, then raises."""

    def calculate_bids(self, products):
        if products[0, 0] >= 1546344000:  # 2019-01-01 12:00
            raise RuntimeError("strategy bug")
        return super().calculate_bids(products)


def with_small_plant(world, strategy: str):
    """``world`` with a 10 MW plant more, bidding with ``strategy``."""
    world.add_unit(
        "small",
        "power_plant",
        "plants",
        {"max_power": 10, "additional_cost": 5},
        bidding_strategies={"EOM": strategy},
    )
    return world


class PlanningStrategy(EnergyNaiveStrategy):
    """Bids naively and queues a job for idle time at every opening (assume.lookahead)."""

    queued: list[bool] = []

    def calculate_bids(self, products):
        PlanningStrategy.queued.append(ahead(iter(())).queued)
        return super().calculate_bids(products)


def test_the_runs_event_loop_takes_jobs_for_its_idle_time(tmp_path):
    PlanningStrategy.queued.clear()
    register_strategy("test_planning", PlanningStrategy)
    world = with_small_plant(small_world(tmp_path, simulation_id="planning"), "test_planning")
    world.run()
    assert len(PlanningStrategy.queued) == 23 and all(PlanningStrategy.queued)


def test_a_failing_strategy_stops_the_run_and_keeps_the_results_so_far(tmp_path):
    register_strategy("test_failing", FailingStrategy)
    world = with_small_plant(small_world(tmp_path, simulation_id="broken"), "test_failing")
    with pytest.raises(SimulationError, match="RuntimeError: strategy bug"):
        world.run()
    meta = read(tmp_path / "broken" / "market_meta.csv")
    assert [row["time"] for row in meta][-1] == "2019-01-01 11:00:00"
    assert len(meta) == 11
    dispatch = read(tmp_path / "broken" / "unit_dispatch.csv")
    assert max(row["time"] for row in dispatch) == "2019-01-01 11:00:00"


def test_a_failing_market_event_stops_the_run_and_keeps_the_results_so_far(tmp_path, monkeypatch):
    from assume.markets.role import MarketRole

    clear = MarketRole._close

    def close(self, closing):
        if closing >= 1546344000:  # 2019-01-01 12:00
            raise RuntimeError("market bug")
        clear(self, closing)

    monkeypatch.setattr(MarketRole, "_close", close)
    world = small_world(tmp_path, simulation_id="market_broken")
    with pytest.raises(SimulationError, match="RuntimeError: market bug"):
        world.run()
    meta = read(tmp_path / "market_broken" / "market_meta.csv")
    assert [row["time"] for row in meta][-1] == "2019-01-01 11:00:00"
    assert len(meta) == 11


def test_real_time_follows_the_wall_clock(tmp_path):
    start = int(time.time())
    world = World(export_csv_path=str(tmp_path))
    world.setup(start, start + 3, "realtime", time_step="1s", real_time=True)
    world.add_market_operator("market_operator")
    world.add_market(
        "market_operator",
        MarketConfig("EOM", [MarketProduct(1, 1, 1)], opening_frequency=1, opening_duration=1),
    )
    world.add_unit_operator("plants")
    world.add_unit(
        "plant",
        "power_plant",
        "plants",
        {"max_power": 100, "additional_cost": 7},
        bidding_strategies={"EOM": "powerplant_energy_naive"},
    )
    world.add_unit_operator("consumers")
    world.add_unit(
        "city",
        "demand",
        "consumers",
        {},
        series={"volume": np.full(4, -50.0)},
        bidding_strategies={"EOM": "demand_energy_naive"},
    )
    began = time.monotonic()
    world.run()
    # the last clearing happens at simulation time start + 3, so not before 3 s of wall time
    assert time.monotonic() - began >= 2.0
    meta = read(tmp_path / "realtime" / "market_meta.csv")
    assert [float(r["price"]) for r in meta] == [7.0, 7.0]


def test_two_markets_see_each_others_results(tmp_path, caplog):
    """A day-ahead market and an hourly market of one market operator: the hourly one trades
    only what is left, and each market role takes only the messages for its market."""
    world = World(export_csv_path=str(tmp_path))
    world.setup("2019-01-01 00:00", "2019-01-03 00:00", "two", time_step="1h")
    world.add_market_operator("market_operator")
    world.add_market(
        "market_operator",
        MarketConfig("DAM", [MarketProduct(3600, 24, 86400)], 86400, 3600, maximum_bid_volume=1e5),
    )
    world.add_market("market_operator", HOUR)
    world.add_unit_operator("plants")
    both = {"DAM": "powerplant_energy_naive", "EOM": "powerplant_energy_naive"}
    world.add_unit(
        "base",
        "power_plant",
        "plants",
        {"max_power": 300, "additional_cost": 10},
        bidding_strategies=both,
    )
    world.add_unit(
        "peak",
        "power_plant",
        "plants",
        {"max_power": 300, "additional_cost": 50},
        bidding_strategies=both,
    )
    world.add_unit_operator("consumers")
    volume = np.full(world.index.length, -200.0)
    world.add_unit(
        "day_ahead_buyer",
        "demand",
        "consumers",
        {},
        series={"volume": volume},
        bidding_strategies={"DAM": "demand_energy_naive"},
    )
    world.add_unit(
        "late_buyer",
        "demand",
        "consumers",
        {},
        series={"volume": volume},
        bidding_strategies={"EOM": "demand_energy_naive"},
    )
    result = world.run()
    # nothing was refused or rejected, and every message counts once
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert result["messages_sent"] == result["messages_handled"]
    meta = read(tmp_path / "two" / "market_meta.csv")
    day_ahead = [r for r in meta if r["market_id"] == "DAM"]
    hourly = {r["product_start"]: r for r in meta if r["market_id"] == "EOM"}
    assert len(day_ahead) == 24 and len(hourly) == 47
    assert all(float(r["price"]) == 10 for r in day_ahead)
    # on day 2 the base plant sold 200 MW day-ahead: the hourly market needs the peak plant
    assert float(hourly["2019-01-02 05:00:00"]["price"]) == 50
    assert float(hourly["2019-01-01 05:00:00"]["price"]) == 10


class RecordingWriter:
    """A result writer that keeps what it is given, to see when flushes happen."""

    def __init__(self):
        self.writes = []
        self.closed = False

    def write(self, table, columns):
        self.writes.append((table, {name: np.asarray(values) for name, values in columns.items()}))

    def close(self):
        self.closed = True


def test_results_are_flushed_every_save_frequency_hours_and_sorted(tmp_path):
    recorder = RecordingWriter()
    world = small_world(tmp_path, writers=[recorder])
    world.save_frequency_hours = 6
    world.run()
    meta_writes = [columns for table, columns in recorder.writes if table == "market_meta"]
    # flushed before the clock reached 06:00, 12:00, 18:00 and at the end
    assert [len(c["price"]) for c in meta_writes] == [5, 6, 6, 6]
    dispatch = [columns for table, columns in recorder.writes if table == "unit_dispatch"]
    for columns in dispatch:
        keys = list(zip(columns["time"].tolist(), columns["unit"].tolist(), strict=True))
        assert keys == sorted(keys)
    assert recorder.closed
    assert recorder.writes[-1][0] == "kpis"
