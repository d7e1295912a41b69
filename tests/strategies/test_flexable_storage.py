"""The flexABLE storage strategy: charge below the average price forecast, discharge above."""

import numpy as np
import pytest

from assume.forecasts import Forecasts
from assume.markets.config import MarketConfig, MarketProduct
from assume.strategies import get_strategy
from assume.strategies.flexable_storage import StorageEnergyHeuristicFlexableStrategy
from assume.timeutil import TimeIndex
from assume.units.storage import StorageFleet

INDEX = TimeIndex(1546300800, 3600, 48)
MARKET = MarketConfig("EOM", [MarketProduct(3600, 1, 3600)])
# 100 MW both ways, 400 MWh, charging 80 % and discharging 90 % efficient
STORAGE = {
    "max_power_charge": 100,
    "max_power_discharge": 100,
    "capacity": 400,
    "efficiency_charge": 0.8,
    "efficiency_discharge": 0.9,
    "initial_soc": 0.5,
}
# the forecast is 40 except at step 10 (and 11); at step 10 the average (foresight 12h) is
# over steps 0..22
EXPENSIVE, CHEAP = 100.0, 17.0
AVERAGE_EXPENSIVE = (22 * 40 + EXPENSIVE) / 23
AVERAGE_CHEAP = (22 * 40 + CHEAP) / 23


def storages(*units):
    fleet = StorageFleet(INDEX)
    for i, params in enumerate(units):
        fleet.add(f"storage{i}", {**STORAGE, **params}, {})
    fleet.freeze()
    return fleet


def strategy(fleet, at_10=EXPENSIVE, at_11=40.0, **params):
    forecast = np.full(INDEX.length, 40.0)
    forecast[10:12] = at_10, at_11
    forecasts = Forecasts(INDEX, [fleet], {"price_EOM": forecast})
    rows = np.arange(len(fleet))
    return StorageEnergyHeuristicFlexableStrategy(
        "storage", fleet, rows, MARKET, forecasts, **params
    )


def products(*steps):
    starts = INDEX.start + INDEX.step * np.array(steps, dtype="int64")
    return np.stack([starts, starts + INDEX.step], axis=1)


def bids(book):
    return list(zip(book.unit_id.tolist(), book.price.tolist(), book.volume.tolist(), strict=True))


def test_discharges_above_the_average_forecast():
    book = strategy(storages({})).calculate_bids(products(10))
    assert bids(book) == [("storage0", pytest.approx(AVERAGE_EXPENSIVE / 0.9), 100.0)]


def test_charges_below_the_average_forecast():
    book = strategy(storages({}), at_10=CHEAP).calculate_bids(products(10))
    assert bids(book) == [("storage0", pytest.approx(AVERAGE_CHEAP * 0.8), -100.0)]


def test_foresight_sets_the_averaging_window():
    book = strategy(storages({}), eom_foresight="2h").calculate_bids(products(10))
    # steps 8..12 hold 40, 40, 100, 40, 40
    assert book.price[0] == pytest.approx(260 / 5 / 0.9)


def test_state_of_charge_limits_and_is_rolled_over_the_products():
    # 10 % of 400 MWh at 90 % discharge efficiency: 36 MW for one hour, then empty
    fleet = storages({"initial_soc": 0.1})
    book = strategy(fleet, at_11=EXPENSIVE).calculate_bids(products(10, 11))
    assert bids(book) == [
        ("storage0", pytest.approx((21 * 40 + 2 * EXPENSIVE) / 23 / 0.9), pytest.approx(36.0)),
        # empty: although expensive, it bids to charge
        ("storage0", pytest.approx((22 * 40 + 2 * EXPENSIVE) / 24 * 0.8), -100.0),
    ]


def test_a_full_storage_does_not_bid_to_charge():
    fleet = storages({"initial_soc": 1.0})
    assert len(strategy(fleet, at_10=CHEAP).calculate_bids(products(10))) == 0


def test_accepted_dispatch_counts_before_it_is_executed():
    fleet = storages({})
    fleet.energy[0, 0:5] = -100  # accepted charging, not yet executed
    # 0.5 -> 0.7 -> 0.9 -> 1.0 (only 50 MW fit in the third hour) -> 1.0 -> 1.0
    assert fleet.planned_soc(10)[0] == pytest.approx(1.0)
    assert len(strategy(fleet, at_10=CHEAP).calculate_bids(products(10))) == 0
    fleet.execute(0, 2)
    assert fleet.executed_until == 2
    assert fleet.soc[0, 2] == pytest.approx(0.9)
    assert fleet.planned_soc(10)[0] == pytest.approx(1.0)


def test_minimum_discharge_power():
    fleet = storages({"initial_soc": 0.1, "min_power_discharge": 50})
    book = strategy(fleet).calculate_bids(products(10))
    # 36 MW would be below the minimum: no discharge, a charge bid instead
    assert book.volume.tolist() == [-100.0]


def test_ramp_and_already_sold_power():
    fleet = storages({"ramp_up_discharge": 30}, {})
    fleet.energy[1, 10] = 60  # storage1 sold 60 MW discharge on another market
    book = strategy(fleet).calculate_bids(products(10))
    assert book.volume.tolist() == [30.0, 40.0]


def test_registered_with_its_deprecated_name():
    assert get_strategy("flexable_eom_storage", "storage") is StorageEnergyHeuristicFlexableStrategy
