"""The flexABLE power plant strategy: inflexible and flexible bids, start-up-aware prices."""

import numpy as np
import pytest

from assume.errors import ConfigurationError
from assume.forecasts import Forecasts
from assume.markets.config import MarketConfig, MarketProduct
from assume.strategies import get_strategy
from assume.strategies.flexable import EnergyHeuristicFlexableStrategy
from assume.timeutil import TimeIndex
from assume.units.power_plant import PowerPlantFleet

INDEX = TimeIndex(1546300800, 3600, 48)  # 2019-01-01, hourly
MARKET = MarketConfig("EOM", [MarketProduct(3600, 1, 3600)])
# a plant of 500 MW, min 200 MW, marginal cost 30; a cold start costs 4 EUR/MW = 2000 EUR
PLANT = {"max_power": 500, "min_power": 200, "additional_cost": 30, "cold_start_cost": 4}


def plants(*units):
    fleet = PowerPlantFleet(INDEX)
    for i, params in enumerate(units):
        fleet.add(f"plant{i}", {**PLANT, **params}, {})
    fleet.freeze()
    return fleet


def strategy(fleet, forecast=50.0, **params):
    forecasts = Forecasts(INDEX, [fleet], {"price_EOM": np.full(INDEX.length, forecast)})
    rows = np.arange(len(fleet))
    return EnergyHeuristicFlexableStrategy("flexable", fleet, rows, MARKET, forecasts, **params)


def products(*steps):
    starts = INDEX.start + INDEX.step * np.array(steps, dtype="int64")
    return np.stack([starts, starts + INDEX.step], axis=1)


def bids(book):
    return sorted(
        zip(book.unit_id.tolist(), book.price.tolist(), book.volume.tolist(), strict=True)
    )


def test_stopped_plant_adds_its_start_up_cost_to_the_minimum_power():
    fleet = plants({})
    book = strategy(fleet).calculate_bids(products(10))
    # op_time -1: cold start 2000 EUR over min_operating_time 1 and 200 MW = +10 EUR/MWh
    assert bids(book) == [("plant0", 30.0, 300.0), ("plant0", 40.0, 200.0)]


def test_running_plant_undercuts_by_its_restart_cost():
    fleet = plants({})
    fleet.energy[0, 9] = 300
    # the forecast is above the marginal cost: the inflexible price is 30 - 2000 / 200
    assert bids(strategy(fleet).calculate_bids(products(10))) == [
        ("plant0", 20.0, 200.0),
        ("plant0", 30.0, 300.0),
    ]
    # cheap now but profitable over the foresight window: bid the minimum as if free
    forecast = np.full(INDEX.length, 50.0)
    forecast[10] = 25.0
    running = strategy(fleet)
    running.forecasts.series["price_EOM"] = forecast
    assert bids(running.calculate_bids(products(10)))[0] == ("plant0", -10.0, 200.0)
    # unprofitable over the window: back to marginal cost minus the restart cost
    assert bids(strategy(fleet, forecast=25.0).calculate_bids(products(10)))[0][1] == 20.0


def test_foresight_sets_the_revenue_window():
    fleet = plants({})
    fleet.energy[0, 9] = 300
    forecast = np.full(INDEX.length, 0.0)
    forecast[10:13] = [25.0, 40.0, 40.0]  # revenue over 10..12: -5 + 10 + 10 > 0
    short = strategy(fleet, eom_foresight="1h")  # 10..11: -5 + 10 > 0
    short.forecasts.series["price_EOM"] = forecast
    assert bids(short.calculate_bids(products(10)))[0][1] == -10.0
    long = strategy(fleet, eom_foresight="12h")  # 10..22: negative
    long.forecasts.series["price_EOM"] = forecast
    assert bids(long.calculate_bids(products(10)))[0][1] == 20.0


def test_price_limits():
    fleet = plants({"cold_start_cost": 2000})  # 1e6 EUR per start, 5000 EUR/MWh of min power
    stopped = strategy(fleet).calculate_bids(products(10))
    assert 3000.0 in stopped.price.tolist()
    fleet.energy[0, 9] = 300
    running = strategy(fleet).calculate_bids(products(10))
    assert -499.0 in running.price.tolist()


def test_minimum_down_time_holds_back_the_flexible_bid():
    fleet = plants({"min_down_time": 3})
    fleet.energy[0, :8] = 300  # stopped in steps 8 and 9: op_time -2 at step 10
    book = strategy(fleet).calculate_bids(products(10, 11))
    step10 = book.start == products(10)[0, 0]
    assert bids(book.take(step10)) == [("plant0", 40.0, 200.0)]
    # if the inflexible bid runs the plant in step 10, it is running in step 11; the
    # restart cost is spread over min_down_time
    assert bids(book.take(~step10)) == [
        ("plant0", pytest.approx(30 - 2000 / 3 / 200), 200.0),
        ("plant0", 30.0, 300.0),
    ]


def test_ramp_limits_the_flexible_bid():
    fleet = plants({"ramp_up": 100, "ramp_down": 100})
    fleet.energy[0, 9] = 300
    book = strategy(fleet).calculate_bids(products(10))
    assert bids(book) == [("plant0", 20.0, 200.0), ("plant0", 30.0, 200.0)]


def test_already_sold_power_is_not_offered_again():
    fleet = plants({})
    fleet.energy[0, 9:11] = [300, 250]
    book = strategy(fleet).calculate_bids(products(10))
    # min power is covered: no inflexible bid, the flexible one is the free 250 MW
    assert bids(book) == [("plant0", 30.0, 250.0)]


def test_average_operation_time_spreads_the_start_up_cost():
    # with min_operating_time 0 the markup uses ASSUME's average operation time: the share
    # of steps running among the products bid so far, over (last bid step + 2)
    fleet = plants({"min_operating_time": 0})
    bidder = strategy(fleet)
    first = bidder.calculate_bids(products(4, 5, 6, 7))
    # never run: the start-up cost is not spread at all (2000 / 200 = +10)
    assert bids(first.take(first.start == products(4)[0, 0]))[1] == ("plant0", 40.0, 200.0)
    fleet.energy[0, 4:6] = 500  # accepted in 2 of the 4 products
    book = bidder.calculate_bids(products(8))
    assert bidder.avg_op_time[0] == pytest.approx(2 / 9)
    assert bids(book)[1][1] == pytest.approx(30 + 2000 / (2 / 9) / 200)


def test_several_units_are_priced_independently():
    fleet = plants({}, {"additional_cost": 50, "min_power": 0}, {"hot_start_cost": 1})
    fleet.energy[2, 9] = 100
    book = strategy(fleet).calculate_bids(products(10))
    assert bids(book) == [
        ("plant0", 30.0, 300.0),
        ("plant0", 40.0, 200.0),
        ("plant1", 50.0, 500.0),  # no minimum power, no inflexible bid
        ("plant2", 20.0, 200.0),  # running: 30 - 2000 / 200
        ("plant2", 30.0, 300.0),
    ]


def test_starting_costs_by_downtime():
    fleet = plants(
        {
            "hot_start_cost": 1,
            "warm_start_cost": 2,
            "cold_start_cost": 3,
            "downtime_hot_start": 2,
            "downtime_warm_start": 5,
        }
    )
    rows = np.zeros(5, dtype="int64")
    costs = fleet.starting_costs(rows, np.array([3, -2, -3, -5, -6]))
    assert costs.tolist() == [0, 500, 1000, 1000, 1500]  # per MW of max_power


def test_products_outside_the_index_get_no_bids():
    fleet = plants({})
    assert len(strategy(fleet).calculate_bids(products(48, 49))) == 0


def test_registered_with_its_deprecated_name():
    assert get_strategy("flexable_eom") is EnergyHeuristicFlexableStrategy
    assert get_strategy("powerplant_energy_heuristic_flexable", "power_plant")
    with pytest.raises(ConfigurationError, match="does not fit unit type 'demand'"):
        get_strategy("flexable_eom", "demand")
