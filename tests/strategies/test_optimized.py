"""The optimising strategies: storages and power plants bid the schedule that a dynamic
programme over the price forecast finds best."""

import csv

import numpy as np
import pytest

from assume import MarketConfig, MarketProduct, World
from assume.errors import ConfigurationError
from assume.forecasts import Forecasts
from assume.strategies import get_strategy
from assume.strategies.optimized import StorageEnergyOptimizedStrategy
from assume.strategies.optimized_plant import PowerPlantEnergyOptimizedStrategy
from assume.timeutil import TimeIndex
from assume.units.power_plant import PowerPlantFleet
from assume.units.storage import StorageFleet

START = 1546300800  # 2019-01-01 00:00
MARKET = MarketConfig("EOM", [MarketProduct(3600, 1, 3600)])
# 50 MW both ways, 100 MWh (101 levels of 1 MWh), lossless, empty
STORAGE = {"max_power_charge": 50, "max_power_discharge": 50, "capacity": 100}


def storage_strategy(prices, params=(), availability=None, **strategy_params):
    index = TimeIndex(START, 3600, len(prices))
    fleet = StorageFleet(index)
    series = {} if availability is None else {"availability": np.array(availability)}
    fleet.add("storage", {**STORAGE, **dict(params)}, series)
    fleet.freeze()
    forecasts = Forecasts(index, [fleet], {"price_EOM": np.array(prices, dtype=float)})
    return StorageEnergyOptimizedStrategy(
        "optimized", fleet, np.arange(1), MARKET, forecasts, **strategy_params
    )


def products(*steps):
    starts = START + 3600 * np.array(steps, dtype="int64")
    return np.stack([starts, starts + 3600], axis=1)


def orders(strategy, *steps):
    """(step, price, volume) of each order for the products at ``steps`` (default: all)."""
    steps = steps or range(strategy.fleet.index.length)
    book = strategy.calculate_bids(products(*steps))
    return [
        (step, pytest.approx(price), pytest.approx(volume))
        for step, price, volume in zip(
            ((book.start - START) // 3600).tolist(),
            book.price.tolist(),
            book.volume.tolist(),
            strict=True,
        )
    ]


def test_lossless_storage_charges_cheap_and_discharges_expensive():
    # charging is worth up to what the energy fetches later (100); the last discharge is
    # worth any price above 0, as stored energy is worth nothing after the horizon
    assert orders(storage_strategy([10, 100])) == [(0, 100, -50), (1, 0, 50)]


def test_round_trip_losses_make_a_small_spread_unprofitable():
    lossy = {"efficiency_charge": 0.5, "efficiency_discharge": 0.5}
    # a quarter of the energy bought comes back: 10 -> 40 is needed to break even
    assert orders(storage_strategy([10, 30], lossy)) == []
    # 50 MW bought store 25 MWh, which sell as 12.5 MW; charging is worth up to 50 x 0.25
    assert orders(storage_strategy([10, 50], lossy)) == [(0, 12.5, -50), (1, 0, 12.5)]


def test_additional_costs_count_against_the_spread():
    assert orders(storage_strategy([10, 30], {"additional_cost_discharge": 25})) == []
    costly = {"additional_cost_charge": 5, "additional_cost_discharge": 10}
    assert orders(storage_strategy([10, 30], costly)) == [(0, 15, -50), (1, 10, 50)]


def test_power_limits_bind():
    big = {"capacity": 200, "max_power_charge": 30, "max_power_discharge": 30}
    assert orders(storage_strategy([10, 10, 100, 100], big)) == [
        (0, 100, -30),
        (1, 100, -30),
        (2, 0, 30),
        (3, 0, 30),
    ]


def test_availability_scales_the_power_limits():
    # only 25 MW can be discharged in the expensive hour, so only 25 MW are charged
    strategy = storage_strategy([10, 100], availability=[1.0, 0.5])
    assert orders(strategy) == [(0, 100, -25), (1, 0, 25)]


def test_state_of_charge_limits_bind():
    window = {"min_soc": 0.2, "max_soc": 0.6, "initial_soc": 0.2}
    big = {"max_power_charge": 100, "max_power_discharge": 100}
    assert orders(storage_strategy([10, 100], {**window, **big})) == [(0, 100, -40), (1, 0, 40)]


def test_minimum_power_rules_out_small_moves():
    # the 50 MWh that fit can only be discharged at 50 MW, below the minimum of 60 MW
    small = {"capacity": 50, "max_power_charge": 100, "max_power_discharge": 100}
    assert orders(storage_strategy([10, 100], {**small, "min_power_discharge": 60})) == []


def test_foresight_sets_the_horizon():
    # a quarter comes back: 10 -> 30 loses, 10 -> 100 pays; 100 lies two hours on
    lossy = {"efficiency_charge": 0.5, "efficiency_discharge": 0.5}
    assert orders(storage_strategy([10, 30, 100], lossy, optimized_foresight="2h"), 0) == []
    assert orders(storage_strategy([10, 30, 100], lossy, optimized_foresight="3h"), 0) == [
        (0, 25, -50)
    ]
    # the default (24h) reaches the end of this short index
    assert orders(storage_strategy([10, 30, 100], lossy), 0) == [(0, 25, -50)]


def test_starts_from_the_planned_state_of_charge_between_levels():
    # 33.3 MWh stored: 16.7 MWh more are enough for the 50 MW that can be sold
    assert orders(storage_strategy([10, 100], {"initial_soc": 0.333})) == [
        (0, 100, -16.7),
        (1, 0, 50),
    ]
    strategy = storage_strategy([0, 10, 100])
    strategy.fleet.energy[0, 0] = -30  # charged 30 MWh in step 0 (accepted, not executed)
    assert orders(strategy, 1, 2) == [(1, 100, -20), (2, 0, 50)]


def test_power_sold_elsewhere_is_part_of_the_plan():
    strategy = storage_strategy([10, 100])
    strategy.fleet.energy[0, 1] = 20  # 20 MW discharge sold on another market
    assert orders(strategy) == [(0, 100, -50), (1, 0, 30)]


def test_a_plan_that_waits_holds_the_energy_and_prices_it_by_its_later_use():
    # charge in the cheapest hour, wait through 40, sell at 100. Charging in hour 0 is worth
    # only up to 40: without it the storage would charge in hour 1 instead
    assert orders(storage_strategy([10, 40, 100])) == [(0, 40, -50), (2, 0, 50)]
    # a full storage sells in the 60-hour only what the 100-hour cannot take
    full = {"initial_soc": 1.0}
    assert orders(storage_strategy([60, 100, 0], full)) == [(0, 0, 50), (1, 0, 50)]


def test_orders_clear_when_the_forecast_is_right():
    """Offers to sell never ask more than the forecast, bids to buy never offer less."""
    rng = np.random.default_rng(7)
    lossy = {"efficiency_charge": 0.85, "efficiency_discharge": 0.9, "initial_soc": 0.37}
    for _ in range(10):
        prices = rng.uniform(0, 120, 36)
        book = storage_strategy(prices, lossy).calculate_bids(products(*range(36)))
        forecast = prices[(book.start - START) // 3600]
        assert len(book)
        assert (book.price[book.volume > 0] <= forecast[book.volume > 0] + 1e-9).all()
        assert (book.price[book.volume < 0] >= forecast[book.volume < 0] - 1e-9).all()


def test_a_group_bids_as_its_units_would_alone():
    """Units of different size share one band of moves; each still gets its own plan."""
    prices = np.random.default_rng(5).uniform(0, 100, 30)
    units = [
        {"max_power_charge": 10, "max_power_discharge": 40, "capacity": 60},
        {"capacity": 400, "efficiency_charge": 0.8, "initial_soc": 0.5},
        {"min_power_discharge": 20, "min_soc": 0.1, "additional_cost_charge": 3},
    ]
    index = TimeIndex(START, 3600, 30)
    fleet = StorageFleet(index)
    for number, params in enumerate(units):
        fleet.add(f"storage{number}", {**STORAGE, **params}, {})
    fleet.freeze()
    forecasts = Forecasts(index, [fleet], {"price_EOM": prices})
    group = StorageEnergyOptimizedStrategy("optimized", fleet, np.arange(3), MARKET, forecasts)
    book = group.calculate_bids(products(*range(30)))
    for number, params in enumerate(units):
        mine = book.unit_id == f"storage{number}"
        alone = storage_strategy(prices, params).calculate_bids(products(*range(30)))
        assert book.start[mine].tolist() == alone.start.tolist()
        assert book.volume[mine] == pytest.approx(alone.volume)
        assert book.price[mine] == pytest.approx(alone.price)


def test_same_inputs_give_identical_orders():
    prices = np.random.default_rng(11).uniform(0, 80, 48)
    first = storage_strategy(prices, {"initial_soc": 0.5}).calculate_bids(products(*range(48)))
    second = storage_strategy(prices, {"initial_soc": 0.5}).calculate_bids(products(*range(48)))
    assert first.price.tobytes() == second.price.tobytes()
    assert first.volume.tobytes() == second.volume.tobytes()


def test_products_outside_the_index_get_no_orders():
    assert orders(storage_strategy([10, 100], {"initial_soc": 0.5}), 1, 2) == [(1, 0, 50)]
    assert orders(storage_strategy([10, 100]), 2, 3) == []


@pytest.mark.parametrize(
    "params, message",
    [
        ({"soc_steps": 1}, "soc_steps must be an integer >= 2"),
        ({"soc_steps": 10.5}, "soc_steps must be an integer >= 2"),
        ({"optimized_foresight": "soon"}, "optimized_foresight: expected a duration"),
        ({"optimized_foresight": 0}, "optimized_foresight must be positive"),
    ],
)
def test_parameter_errors_name_the_parameter(params, message):
    with pytest.raises(ConfigurationError, match=message):
        storage_strategy([10, 100], **params)


def test_products_must_last_one_time_step():
    fleet = StorageFleet(TimeIndex(START, 3600, 4))
    fleet.add("storage", STORAGE, {})
    fleet.freeze()
    blocks = MarketConfig("EOM", [MarketProduct(7200, 1, 7200)])
    forecasts = Forecasts(fleet.index, [fleet], {"price_EOM": np.zeros(4)})
    with pytest.raises(ConfigurationError, match="products must last one time step"):
        StorageEnergyOptimizedStrategy("optimized", fleet, np.arange(1), blocks, forecasts)


def test_registered_names():
    assert get_strategy("storage_energy_optimized", "storage") is StorageEnergyOptimizedStrategy
    assert (
        get_strategy("powerplant_energy_optimized", "power_plant")
        is PowerPlantEnergyOptimizedStrategy
    )


# -- power plants -----------------------------------------------------------------------
# 100 MW, at least 50 MW when running, marginal cost 20; a restart costs start-cost x 100 MW
PLANT = {"max_power": 100, "min_power": 50, "additional_cost": 20}


def plant_strategy(prices, params=(), history=None):
    index = TimeIndex(START, 3600, len(prices))
    fleet = PowerPlantFleet(index)
    fleet.add("plant", {**PLANT, **dict(params)}, {})
    fleet.freeze()
    if history is not None:
        fleet.energy[0, : len(history)] = history
    forecasts = Forecasts(index, [fleet], {"price_EOM": np.array(prices, dtype=float)})
    return PowerPlantEnergyOptimizedStrategy("optimized", fleet, np.arange(1), MARKET, forecasts)


def test_plant_without_start_costs_runs_only_where_it_earns():
    # minimum power at the price where running pays, the rest at marginal cost
    assert orders(plant_strategy([50, 10, 50])) == [
        (0, 20, 50),
        (0, 20, 50),
        (2, 20, 50),
        (2, 20, 50),
    ]


def test_plant_stays_on_through_a_cheap_hour_when_a_restart_costs_more():
    # standing still in hour 1 saves 50 MW x 10 = 500 EUR but the restart costs 600 EUR: the
    # plant runs on and accepts down to 20 - 600 / 50 = 8 in that hour; in hour 0, running
    # on is worth the 100 EUR by which staying on beats the restart: 20 - 100 / 50 = 18
    hot = {"hot_start_cost": 6, "downtime_hot_start": 5}
    assert orders(plant_strategy([50, 10, 50], hot)) == [
        (0, 18, 50),
        (0, 20, 50),
        (1, 8, 50),
        (1, 20, 50),
        (2, 20, 50),
        (2, 20, 50),
    ]


def test_plant_restarts_when_that_is_cheaper_and_prices_in_the_start():
    # a 400 EUR restart beats losing 500 EUR; the start needs 20 + 400 / 50 = 28 EUR/MWh
    hot = {"hot_start_cost": 4, "downtime_hot_start": 5}
    assert orders(plant_strategy([50, 10, 50], hot)) == [
        (0, 20, 50),
        (0, 20, 50),
        (2, 28, 50),
        (2, 28, 50),
    ]


def test_minimum_up_time_makes_output_must_run():
    # stopped before step 1; once started in step 2 it has to run on in step 3
    params = {"min_operating_time": 3, "hot_start_cost": 4, "downtime_hot_start": 5}
    assert orders(plant_strategy([0, 10, 50, 50], params, history=[0]), 1, 2, 3) == [
        (2, 20, 50),
        (2, 20, 50),
        (3, -500, 50),
        (3, 20, 50),
    ]


def test_minimum_down_time_delays_a_restart():
    # stopped in step 0: with a minimum down time of 3 it may start again in step 3
    strategy = plant_strategy([0, 50, 10, 50], {"min_down_time": 3}, history=[0])
    assert orders(strategy, 1, 2, 3) == [(3, 20, 50), (3, 20, 50)]


# -- a whole run --------------------------------------------------------------------------
def test_world_run_storage_charges_cheap_and_discharges_expensive(tmp_path):
    """A day-ahead market (24 hourly products, a day ahead): a cheap plant covers the night,
    a dear one the day; the storage buys at night and sells by day within its limits."""
    world = World(export_csv_path=str(tmp_path))
    world.setup("2019-01-01 00:00", "2019-01-04 00:00", "optimized", time_step="1h")
    world.add_market_operator("market_operator")
    day_ahead = MarketConfig(
        "DAM", [MarketProduct(3600, 24, 86400)], 86400, 3600, maximum_bid_volume=1e5
    )
    world.add_market("market_operator", day_ahead)
    world.add_unit_operator("plants")
    for name, cost in (("cheap", 10.0), ("dear", 50.0)):
        world.add_unit(
            name,
            "power_plant",
            "plants",
            {"max_power": 500, "additional_cost": cost},
            bidding_strategies={"DAM": "powerplant_energy_naive"},
        )
    world.add_unit_operator("consumers")
    hour = np.arange(world.index.length) % 24
    night = hour < 8
    world.add_unit(
        "city",
        "demand",
        "consumers",
        {"price": 3000},
        series={"volume": np.where(night, -300.0, -700.0)},
        bidding_strategies={"DAM": "demand_energy_naive"},
    )
    world.add_unit_operator("storages")
    world.add_unit(
        "battery",
        "storage",
        "storages",
        {
            "max_power_charge": 100,
            "max_power_discharge": 100,
            "capacity": 400,
            "efficiency_charge": 0.9,
            "efficiency_discharge": 0.9,
            "min_soc": 0.1,
            "max_soc": 0.9,
            "initial_soc": 0.1,
        },
        bidding_strategies={"DAM": "storage_energy_optimized"},
    )
    world.run()

    with open(tmp_path / "optimized" / "unit_dispatch.csv", newline="") as handle:
        battery = [row for row in csv.DictReader(handle) if row["unit"] == "battery"]
    power = np.array([float(row["power"]) for row in battery])
    soc = np.array([float(row["soc"]) for row in battery])
    hours = np.array([int(row["time"][11:13]) for row in battery])
    assert len(battery) == world.index.length
    # day one has no day-ahead products; on days two and three it trades
    assert (power[:24] == 0).all()
    assert (power[24:][hours[24:] < 8] <= 0).all() and (power[24:][hours[24:] >= 8] >= 0).all()
    # each day it fills what it can sell by day: 320 MWh stored, 288 MWh sold
    for day in (1, 2):
        today = slice(24 * day, 24 * day + 24)
        assert -power[today][power[today] < 0].sum() == pytest.approx(320 / 0.9, rel=0.02)
        assert power[today][power[today] > 0].sum() == pytest.approx(320 * 0.9, rel=0.02)
    assert soc.min() >= 0.1 - 1e-9 and soc.max() <= 0.9 + 1e-9
    assert soc.max() == pytest.approx(0.9)


@pytest.mark.parametrize(
    "make",
    [
        lambda: storage_strategy([10, 40, 100, 20, 90, 30], optimized_foresight="3h"),
        lambda: plant_strategy([50, 10, 50, 0, 60, 30], {"min_down_time": 2}, history=[0]),
    ],
    ids=["storage", "power_plant"],
)
def test_the_next_opening_is_planned_ahead_and_bids_as_if_computed_then(make):
    planned = make()
    for step in range(4):
        assert orders(planned, step) == orders(make(), step)
        # hourly openings: the next one offers the next hour, and its value function is
        # planned over that hour's horizon
        window, job = planned._ahead
        assert window == planned.horizon(products(step + 1))[1::2]
        if step % 2:
            job.result()  # as a worker's idle time would have done
    # the market's last opening (its products end with the index): nothing more to plan
    assert orders(planned, 4) == orders(make(), 4)
    assert planned._ahead is None
    # an opening other than the planned one is computed afresh
    orders(planned, 2)
    assert orders(planned, 1) == orders(make(), 1)
