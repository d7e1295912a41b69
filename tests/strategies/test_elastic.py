"""Elastic demand: a linear or isoelastic demand curve in num_bids steps."""

import numpy as np
import pytest

from assume.errors import ConfigurationError
from assume.markets.config import MarketConfig, MarketProduct
from assume.strategies import get_strategy
from assume.strategies.elastic import EnergyHeuristicElasticStrategy
from assume.timeutil import TimeIndex
from assume.units.demand import DemandFleet

INDEX = TimeIndex(1546300800, 3600, 48)
MARKET = MarketConfig("EOM", [MarketProduct(3600, 1, 3600)])


def strategy(*units):
    fleet = DemandFleet(INDEX)
    for i, params in enumerate(units):
        fleet.add(f"demand{i}", params, {"volume": np.full(INDEX.length, -1.0)})
    fleet.freeze()
    return EnergyHeuristicElasticStrategy("elastic", fleet, np.arange(len(fleet)), MARKET)


def products(*steps):
    starts = INDEX.start + INDEX.step * np.array(steps, dtype="int64")
    return np.stack([starts, starts + INDEX.step], axis=1)


LINEAR = {"max_power": -1000, "price": 100, "elasticity_model": "linear", "num_bids": 4}
ISO = {"max_power": -900, "price": 500, "elasticity": -0.4, "elasticity_model": "isoelastic"}


def test_linear_curve_falls_from_the_price_to_zero():
    book = strategy(LINEAR).calculate_bids(products(3))
    # each step of 250 MW priced at its left end; the demand series is ignored, as in ASSUME
    assert book.price.tolist() == pytest.approx([100.0, 75.0, 50.0, 25.0])
    assert book.volume.tolist() == [-250.0] * 4


def test_isoelastic_curve():
    book = strategy({**ISO, "num_bids": 3}).calculate_bids(products(3))
    first = 900 * 500**-0.4  # bought at any price up to 500
    rest = (900 - first) / 2
    assert book.volume.tolist() == pytest.approx([-first, -rest, -rest])
    assert book.price.tolist() == pytest.approx([500, ((first + rest) / 900) ** (1 / -0.4), 1.0])


def test_units_with_different_curves_bid_every_product():
    book = strategy(LINEAR, {**ISO, "num_bids": 2}, {**LINEAR, "max_power": 0}).calculate_bids(
        products(3, 4)
    )
    # 4 + 2 bids per product; the unit without power bids nothing
    assert len(book) == 12
    for start in products(3, 4)[:, 0]:
        mine = book.start == start
        assert sorted(set(book.unit_id[mine].tolist())) == ["demand0", "demand1"]
        assert book.volume[mine & (book.unit_id == "demand1")].sum() == pytest.approx(-900)


@pytest.mark.parametrize(
    "params, message",
    [
        ({**LINEAR, "elasticity_model": ""}, "elasticity_model must be"),
        ({**LINEAR, "num_bids": 1}, "num_bids must be at least 2"),
        ({**LINEAR, "price": -5}, "needs a positive price"),
        ({**ISO, "num_bids": 3, "elasticity": 0.2}, "needs a negative elasticity"),
        ({**ISO, "num_bids": 3, "price": 0.5}, "exceeds max_power"),
    ],
)
def test_invalid_curves_are_configuration_errors(params, message):
    with pytest.raises(ConfigurationError, match=message):
        strategy(params)


def test_registered_with_its_deprecated_name():
    assert get_strategy("elastic_demand", "demand") is EnergyHeuristicElasticStrategy
