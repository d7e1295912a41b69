"""The merit-order price forecast, as ASSUME 0.6.0 computes it."""

import numpy as np
import pytest

from assume.forecasts import SHORTAGE_PRICE, Forecasts, merit_order_price
from assume.timeutil import TimeIndex
from assume.units.demand import DemandFleet
from assume.units.exchange import ExchangeFleet
from assume.units.power_plant import PowerPlantFleet
from assume.units.storage import StorageFleet

INDEX = TimeIndex(1546300800, 3600, 4)


def fleets(demand, availability=(1, 1, 1, 1), exchange=None):
    plants = PowerPlantFleet(INDEX)
    plants.add("cheap", {"max_power": 100, "additional_cost": 10}, {})
    plants.add("dear", {"max_power": 100, "additional_cost": 50}, {})
    plants.add("wind", {"max_power": 100}, {"availability": np.array(availability, float)})
    consumers = DemandFleet(INDEX)
    consumers.add("city", {}, {"volume": -np.array(demand, float)})
    storages = StorageFleet(INDEX)
    storages.add(
        "battery", {"max_power_charge": 500, "max_power_discharge": 500, "capacity": 1}, {}
    )
    result = [plants, consumers, storages]
    if exchange is not None:
        border = ExchangeFleet(INDEX)
        border.add("border", {}, {"import": exchange[0], "export": -np.array(exchange[1])})
        result.append(border)
    for fleet in result:
        fleet.freeze()
    return result


def test_price_is_the_cost_of_the_plant_that_covers_the_demand():
    price = merit_order_price(INDEX, fleets([150, 200, 250, 300]))
    assert price.tolist() == [10.0, 10.0, 50.0, 50.0]


def test_no_demand_gives_the_cheapest_cost_and_a_shortage_gives_1000():
    price = merit_order_price(INDEX, fleets([0, 50, 301, 300]))
    assert price.tolist() == [0.0, 0.0, SHORTAGE_PRICE, 50.0]


def test_availability_counts():
    price = merit_order_price(INDEX, fleets([150, 150, 150, 150], availability=(1, 0.5, 0.4, 0)))
    assert price.tolist() == [10.0, 10.0, 50.0, 50.0]


def test_imports_reduce_and_exports_add_to_the_demand():
    exchange = (np.array([0, 60, 0, 0.0]), np.array([0, 0, 60, 0.0]))
    price = merit_order_price(INDEX, fleets([250, 250, 150, 150], exchange=exchange))
    assert price.tolist() == [50.0, 10.0, 50.0, 10.0]


def test_only_the_market_bidders_count():
    units = fleets([150, 150, 150, 150])
    assert merit_order_price(INDEX, units, bidders={"dear", "wind", "city"}).tolist() == [50.0] * 4
    forecasts = Forecasts(INDEX, units, bidders={"EOM": {"wind", "city"}})
    assert forecasts.price("EOM").tolist() == [SHORTAGE_PRICE] * 4


def test_a_given_forecast_wins():
    given = np.arange(4.0)
    forecasts = Forecasts(INDEX, fleets([150] * 4), {"price_EOM": given})
    assert forecasts.price("EOM") is given
    assert forecasts.price("DAM").tolist() == pytest.approx([10.0] * 4)
