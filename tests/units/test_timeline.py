"""Per-unit arrays that give back the memory of steps no longer needed, and whole runs that
release them: the results must not change."""

import ctypes
import mmap
import sys

import numpy as np
import pytest

from assume import MarketConfig, MarketProduct, World
from assume.units.base import Fleet
from assume.units.timeline import Timeline


def resident_bytes(timeline: Timeline) -> int:
    """Memory the timeline's pages take, from mincore(2) on its mapping (Linux)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p]
    address = ctypes.addressof(ctypes.c_char.from_buffer(timeline._map))
    length = len(timeline._map)
    pages = -(-length // mmap.PAGESIZE)
    vector = ctypes.create_string_buffer(pages)
    if libc.mincore(address, length, vector) != 0:
        raise OSError(ctypes.get_errno(), "mincore failed")
    return sum(byte & 1 for byte in vector.raw) * mmap.PAGESIZE


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="calls mincore(2) (Linux)")
def test_only_written_and_unreleased_steps_take_memory():
    units, steps = 100, 4000  # 3.2 MB
    timeline = Timeline(units, steps)
    array = timeline.array
    assert array.shape == (units, steps)
    assert resident_bytes(timeline) == 0  # nothing written yet
    array[:, :] = np.arange(steps)[None, :] + np.arange(units)[:, None] * 1e4
    full = resident_bytes(timeline)
    assert full >= units * steps * 8
    timeline.release(3000)
    # the pages of steps before 3000 are gone; a page shared with step 3000 stays
    left = resident_bytes(timeline)
    pages = -(-units * steps * 8 // mmap.PAGESIZE) - 3000 * units * 8 // mmap.PAGESIZE
    assert 1000 * units * 8 <= left <= pages * mmap.PAGESIZE
    # later steps keep their values
    assert (
        array[:, 3000:].tolist()
        == (np.arange(3000, steps)[None, :] + np.arange(units)[:, None] * 1e4).tolist()
    )
    timeline.release(2000)  # releasing less than before changes nothing
    assert resident_bytes(timeline) == left
    # the memory is free, not only unmapped: released steps read as zeros again (from the
    # system's one zero page)
    assert not array[:, :2900].any()


def test_empty_timeline_has_the_right_shape():
    assert Timeline(0, 10).array.shape == (0, 10)
    Timeline(0, 10).release(5)


HOUR = MarketConfig("EOM", [MarketProduct(3600, 1, 3600)], 3600, 3600, maximum_bid_volume=1e5)
DAY_AHEAD = MarketConfig(
    "DAM", [MarketProduct(3600, 24, 86400)], 86400, 3600, maximum_bid_volume=1e5
)


def long_world(path, days: int) -> World:
    """Plants with ramps and minimum up and down times (their bids and dispatch look back),
    a storage and a demand, on an hourly and a day-ahead market, over ``days`` days."""
    # results stay with the output role until the end: what an operator reported must not
    # change when it releases the steps later
    world = World(export_csv_path=str(path))
    end = (np.datetime64("2019-01-01") + np.timedelta64(days, "D")).astype(str)
    world.setup(
        "2019-01-01 00:00", f"{end} 00:00", "long", time_step="1h", save_frequency_hours=None
    )
    world.add_market_operator("operator")
    world.add_market("operator", HOUR)
    world.add_market("operator", DAY_AHEAD)
    world.add_unit_operator("plants")
    hours = np.arange(world.index.length)
    for number in range(12):
        world.add_unit(
            f"plant{number}",
            "power_plant",
            "plants",
            {
                "max_power": 100 + 10 * number,
                "min_power": 20,
                "additional_cost": 5.0 + 3 * number,
                "ramp_up": 40,
                "ramp_down": 50,
                "min_operating_time": 3 + number % 4,
                "min_down_time": 2 + number % 3,
                "cold_start_cost": 2.0,
            },
            series={"availability": 0.6 + 0.4 * np.cos(hours / (5 + number)) ** 2},
            bidding_strategies={"EOM": "powerplant_energy_heuristic_flexable"},
        )
    world.add_unit(
        "storage",
        "storage",
        "plants",
        {"max_power_charge": 80, "max_power_discharge": 80, "capacity": 400, "initial_soc": 0.5},
        bidding_strategies={"DAM": "storage_energy_heuristic_flexable"},
    )
    world.add_unit_operator("consumers")
    world.add_unit(
        "city",
        "demand",
        "consumers",
        {"price": 3000},
        series={"volume": -(500 + 400 * np.sin(hours * 2 * np.pi / 24) ** 2)},
        bidding_strategies={"EOM": "demand_energy_naive"},
    )
    return world


def test_releasing_reported_steps_changes_no_result(tmp_path, monkeypatch):
    # released steps become NaN: a read of any of them would change the results
    monkeypatch.setattr(Timeline, "poison", True)
    released = []
    release = Fleet.release

    def counting_release(fleet, before):
        released.append(before)
        release(fleet, before)

    monkeypatch.setattr(Fleet, "release", counting_release)
    long_world(tmp_path / "released", 20).run()
    assert max(released) > 24 * 18
    monkeypatch.setattr(Fleet, "release", lambda fleet, before: None)
    long_world(tmp_path / "kept", 20).run()
    for table in ("market_meta", "market_orders", "unit_dispatch"):
        released_bytes = (tmp_path / "released" / "long" / f"{table}.csv").read_bytes()
        assert released_bytes == (tmp_path / "kept" / "long" / f"{table}.csv").read_bytes()
        assert len(released_bytes) > 1000
