"""Hand-computed clearing cases for pay_as_clear and pay_as_bid, and the merit order."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assume.errors import ConfigurationError
from assume.markets.clearing import get_mechanism, merit_order, pay_as_bid, pay_as_clear
from assume.markets.orderbook import Orderbook

H = 3600
PRODUCTS = np.array([[0, H]])


def book(orders, start=0, end=H):
    """orders: list of (unit, price, volume)."""
    units = [o[0] for o in orders]
    return Orderbook.build(
        start=start,
        end=end,
        price=[o[1] for o in orders],
        volume=[o[2] for o in orders],
        unit_id=np.array(units, dtype=str) if units else np.array([], dtype=str),
    )


def accepted(ob, result):
    return dict(zip(ob.unit_id.tolist(), result.accepted_volume.tolist(), strict=True))


def test_marginal_supply_is_partially_accepted_and_sets_the_price():
    ob = book([("a", 10, 100), ("b", 20, 100), ("c", 30, 100), ("d", 3000, -150)])
    result = pay_as_clear(ob, PRODUCTS)
    assert accepted(ob, result) == {"a": 100, "b": 50, "c": 0, "d": -150}
    assert result.meta["price"][0] == 20
    assert result.meta["supply_volume"][0] == 150
    assert result.meta["demand_volume"][0] == 150
    assert np.all(result.accepted_price == 20)


def test_demand_price_does_not_set_the_price():
    ob = book([("a", 10, 100), ("d", 500, -50)])
    result = pay_as_clear(ob, PRODUCTS)
    assert result.meta["price"][0] == 10
    assert accepted(ob, result) == {"a": 50, "d": -50}


def test_short_supply_accepts_demand_partially():
    ob = book([("a", 10, 100), ("d", 3000, -150)])
    result = pay_as_clear(ob, PRODUCTS)
    assert accepted(ob, result) == {"a": 100, "d": -100}
    assert result.meta["demand_volume"][0] == 100
    assert result.meta["price"][0] == 10


def test_no_supply_gives_price_zero_and_nothing_accepted():
    ob = book([("d", 3000, -150)])
    result = pay_as_clear(ob, PRODUCTS)
    assert result.accepted_volume.tolist() == [0]
    assert result.meta["price"][0] == 0
    assert result.meta["demand_volume"][0] == 0


def test_empty_book_still_reports_every_product():
    products = np.array([[0, H], [H, 2 * H]])
    result = pay_as_clear(Orderbook.empty(), products)
    assert result.meta["price"].tolist() == [0, 0]
    assert result.meta["supply_volume"].tolist() == [0, 0]


def test_negative_prices():
    ob = book([("wind", -50, 80), ("coal", 40, 100), ("d", 3000, -60)])
    result = pay_as_clear(ob, PRODUCTS)
    assert result.meta["price"][0] == -50
    assert accepted(ob, result) == {"wind": 60, "coal": 0, "d": -60}


def test_supply_dearer_than_demand_price_is_rejected():
    # elastic demand: 100 MW at 50, 100 MW at 15; supply 10 and 20
    ob = book([("a", 10, 120), ("b", 20, 200), ("d1", 50, -100), ("d2", 15, -100)])
    result = pay_as_clear(ob, PRODUCTS)
    # d1 takes 100 of a; d2 takes the remaining 20 of a, b (20) is dearer than 15
    assert accepted(ob, result) == {"a": 120, "b": 0, "d1": -100, "d2": -20}
    assert result.meta["price"][0] == 10


def test_ties_are_broken_by_unit_id_whatever_the_order_of_arrival():
    orders = [("z", 10, 100), ("a", 10, 100), ("m", 10, 100), ("d", 3000, -150)]
    for permutation in ([0, 1, 2, 3], [3, 2, 1, 0], [2, 0, 3, 1]):
        ob = book([orders[i] for i in permutation])
        assert accepted(ob, pay_as_clear(ob, PRODUCTS)) == {"a": 100, "m": 50, "z": 0, "d": -150}


def test_exact_match_leaves_no_partial_order():
    ob = book([("a", 10, 100), ("b", 20, 50), ("c", 30, 100), ("d", 3000, -150)])
    result = pay_as_clear(ob, PRODUCTS)
    assert accepted(ob, result) == {"a": 100, "b": 50, "c": 0, "d": -150}
    assert result.meta["price"][0] == 20


def test_pay_as_bid_pays_each_supply_its_own_price():
    ob = book([("a", 10, 100), ("b", 20, 100), ("d", 3000, -150)])
    result = pay_as_bid(ob, PRODUCTS)
    prices = dict(zip(ob.unit_id.tolist(), result.accepted_price.tolist(), strict=True))
    assert prices["a"] == 10 and prices["b"] == 20
    assert result.meta["price"][0] == pytest.approx((100 * 10 + 50 * 20) / 150)
    assert result.meta["min_price"][0] == 10 and result.meta["max_price"][0] == 20


def test_several_products_are_cleared_separately():
    products = np.array([[0, H], [H, 2 * H]])
    first = book([("a", 10, 100), ("d", 3000, -50)], 0, H)
    second = book([("a", 12, 100), ("b", 5, 10), ("d", 3000, -60)], H, 2 * H)
    result = pay_as_clear(Orderbook.concat([first, second]), products)
    assert result.meta["price"].tolist() == [10, 12]
    assert result.meta["supply_volume"].tolist() == [50, 60]
    assert result.meta["supply_volume_energy"].tolist() == [50, 60]


def test_unknown_mechanism_lists_known_ones():
    with pytest.raises(ConfigurationError, match="pay_as_bid, pay_as_clear"):
        get_mechanism("vickrey")


def test_concat_keeps_every_column_or_leaves_the_answer_out():
    first = Orderbook.build(
        start=0,
        end=3600,
        price=[10.0, 20.0],
        volume=[5.0, -5.0],
        unit_id=["a", "b"],
        accepted_price=[10.0, 20.0],
        accepted_volume=[5.0, -1.0],
    )
    second = Orderbook.build(
        start=3600,
        end=7200,
        price=[30.0],
        volume=[7.0],
        unit_id=["c"],
        accepted_price=[30.0],
        accepted_volume=[7.0],
    )
    both = Orderbook.concat([first, Orderbook.empty(), second])
    assert both.unit_id.tolist() == ["a", "b", "c"] and both.start.tolist() == [0, 0, 3600]
    assert both.accepted_volume.tolist() == [5.0, -1.0, 7.0]
    orders = Orderbook.concat([first, second], answers=False)
    for name in ("start", "end", "price", "volume", "unit_id", "bid_id", "node"):
        np.testing.assert_array_equal(getattr(orders, name), getattr(both, name))
    assert np.isnan(orders.accepted_price).all() and not orders.accepted_volume.any()


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.data())
def test_the_merit_order_is_the_lexicographic_order_of_every_key(data):
    """The merit order sorts by product, side, price, unit id and bid id, the text only among
    orders alike in the rest: it must be the order np.lexsort gives on all five keys, ties in
    price (and -0.0 against 0.0, and NaN) included."""
    count = data.draw(st.integers(0, 25))

    def pick(values):
        return data.draw(st.lists(st.sampled_from(values), min_size=count, max_size=count))

    orders = Orderbook.build(
        start=0,
        end=H,
        price=pick([1.0, 2.0, 0.0, -0.0, np.nan]),
        volume=pick([-5.0, 0.0, 5.0]),
        unit_id=np.array(pick(["a", "b", "aa"]), dtype=str),
        bid_id=np.array(pick(["x_1", "x_2", "y_1"]), dtype=str),
    )
    position = np.array(pick([-1, 0, 1]), dtype=int)
    side = np.where(orders.volume > 0, 0, np.where(orders.volume < 0, 1, 2))
    sort_price = np.where(side == 1, -orders.price, orders.price)
    expected = np.lexsort((orders.bid_id, orders.unit_id, sort_price, side, position))
    assert merit_order(orders, position, side, sort_price).tolist() == expected.tolist()
