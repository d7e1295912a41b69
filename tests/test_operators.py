"""The units operator books the market's answer on the units that bid."""

import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest

from assume.markets.config import MarketConfig, MarketProduct
from assume.messages import ClearingFeedback, Opening
from assume.operators import UnitsOperatorRole
from assume.strategies.flexable import EnergyHeuristicFlexableStrategy
from assume.strategies.naive import EnergyNaiveStrategy
from assume.timeutil import TimeIndex
from assume.units.power_plant import PowerPlantFleet

H = 3600
INDEX = TimeIndex(0, H, 6)
HOURLY = MarketConfig("EOM", [MarketProduct(H, 1, H)], H, H)
BLOCKS = MarketConfig("EOM", [MarketProduct(2 * H, 2, H)], H, H)
COSTS = {"a": 10.0, "b": 20.0, "c": 30.0}


def operator(market: MarketConfig, strategy=EnergyNaiveStrategy):
    """An operator of three plants; what it sends is collected in ``role.sent``."""
    plants = PowerPlantFleet(INDEX)
    for name, cost in COSTS.items():
        plants.add(name, {"max_power": 100, "min_power": 10, "additional_cost": cost}, {})
    plants.freeze()
    forecasts = SimpleNamespace(price=lambda market_id: np.full(INDEX.length, 25.0))
    group = strategy("naive", plants, np.arange(3), market, forecasts)
    role = UnitsOperatorRole("op", INDEX, {"power_plant": plants}, {"EOM": [group]}, {"EOM": None})
    role._context = SimpleNamespace(current_timestamp=H, aid="op")
    role.sent = []
    role.send = lambda content, receiver: role.sent.append(content)
    return role, plants


def bid(role, market: MarketConfig):
    role.handle_opening(Opening("EOM", 0, H, market.products_at(0)), {})
    return role.sent[-1].orderbook


def answer(book, accepted_volume, price=25.0, rejections=()):
    """The market's answer: ``book`` with accepted volumes and a uniform price."""
    accepted_volume = np.asarray(accepted_volume, dtype=float)
    return ClearingFeedback(
        "EOM",
        0,
        dataclasses.replace(
            book,
            accepted_volume=accepted_volume,
            accepted_price=np.where(accepted_volume != 0, price, np.nan),
        ),
        list(rejections),
    )


@pytest.mark.parametrize(
    "market, strategy",
    [
        (HOURLY, EnergyNaiveStrategy),
        (BLOCKS, EnergyNaiveStrategy),
        (HOURLY, EnergyHeuristicFlexableStrategy),
    ],
)
def test_an_answer_in_place_is_booked_as_by_unit_id(market, strategy):
    by_place, plants = operator(market, strategy)
    by_unit_id, other_plants = operator(market, strategy)
    book = bid(by_place, market)
    bid(by_unit_id, market)
    by_unit_id.submissions.clear()  # nothing to match the answer against: ids it is
    accepted = np.where(book.price <= 20.0, book.volume, 0.0)
    accepted[np.flatnonzero(accepted)[-1]] /= 2  # a marginal order, partly accepted
    feedback = answer(book, accepted)
    assert by_place.submissions[("EOM", 0)].answered_in_place(feedback)
    by_place.handle_feedback(feedback, {})
    by_unit_id.handle_feedback(answer(book, accepted), {})
    assert plants.energy.any()
    assert plants.energy.tolist() == other_plants.energy.tolist()
    assert plants.cashflow.tolist() == other_plants.cashflow.tolist()
    assert not by_place.submissions


def test_orders_of_a_product_of_two_steps_are_booked_in_both():
    role, plants = operator(BLOCKS)
    book = bid(role, BLOCKS)
    role.handle_feedback(answer(book, np.where(book.unit_id == "a", 40.0, 0.0)), {})
    # products [1 h, 3 h) and [3 h, 5 h); ASSUME books price x volume x steps in each step
    assert plants.energy[0].tolist() == [0, 40, 40, 40, 40, 0]
    assert plants.cashflow[0].tolist() == [0, 2000, 2000, 2000, 2000, 0]


def test_without_a_rejected_order_the_rest_is_booked_on_the_right_units():
    role, plants = operator(HOURLY)
    book = bid(role, HOURLY)
    kept = book.take(book.unit_id != "b")
    role.handle_feedback(answer(kept, [100.0, 50.0], rejections=[("b_1", "some reason")]), {})
    assert plants.energy[:, 1].tolist() == [100, 0, 50]
    assert plants.cashflow[:, 1].tolist() == [2500, 0, 1250]


def test_orders_of_units_the_operator_does_not_hold_are_not_booked():
    role, plants = operator(HOURLY)
    book = bid(role, HOURLY)
    # an answer of the submitted length in which another operator's unit took b's place
    foreign = dataclasses.replace(book, unit_id=np.array(["a", "theirs", "c"]))
    feedback = answer(foreign, [100.0, 100.0, 100.0])
    assert not role.submissions[("EOM", 0)].answered_in_place(feedback)
    role.handle_feedback(feedback, {})
    assert plants.energy[:, 1].tolist() == [100, 0, 100]
