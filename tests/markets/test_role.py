"""Order validation and result tables of the market role (pure functions)."""

import numpy as np

from assume.markets.config import MarketConfig, MarketProduct
from assume.markets.orderbook import Orderbook
from assume.markets.role import market_dispatch, validate_orderbook

H = 3600
MARKET = MarketConfig(
    "EOM",
    [MarketProduct(H, 2, 0)],
    maximum_bid_volume=100,
    maximum_bid_price=500,
    minimum_bid_price=-100,
)
PRODUCTS = np.array([[0, H], [H, 2 * H]])


def book(**columns):
    base = {"start": 0, "end": H, "price": 10.0, "volume": 50.0, "unit_id": "a"}
    base.update(columns)
    return Orderbook.build(**base)


def test_valid_orders_pass_unchanged():
    orders = book(start=[0, H], end=[H, 2 * H], price=[1, 2], volume=[3, 4], unit_id=["a", "b"])
    valid, rejected = validate_orderbook(orders, MARKET, PRODUCTS, {}, "op")
    assert rejected == [] and len(valid) == 2


def test_prices_and_volumes_outside_the_limits_are_clamped():
    orders = book(price=[900, -300, 20], volume=[500, -500, 5], unit_id=["a", "b", "c"])
    valid, rejected = validate_orderbook(orders, MARKET, PRODUCTS, {}, "op")
    assert rejected == []
    assert valid.price.tolist() == [500, -100, 20]
    assert valid.volume.tolist() == [100, -100, 5]


def test_invalid_orders_are_rejected_with_a_reason():
    owners = {"theirs": "other_operator"}
    orders = book(
        start=[0, 5 * H, 0, 0, 0, 0],
        end=[H, 6 * H, H, H, H, H],
        price=[1, 1, np.nan, 1, 1, np.inf],
        volume=[1, 1, 1, 1, 1, 1],
        unit_id=["a", "a", "a", "theirs", "", "a"],
        bid_id=["ok", "late", "nan", "stolen", "anonymous", "infinite"],
    )
    valid, rejected = validate_orderbook(orders, MARKET, PRODUCTS, owners, "op")
    assert valid.bid_id.tolist() == ["ok"]
    reasons = dict(rejected)
    assert reasons["late"] == "product is not open on this market"
    assert reasons["nan"] == reasons["infinite"] == "price and volume must be finite numbers"
    assert reasons["stolen"] == "unit theirs belongs to operator other_operator"
    assert reasons["anonymous"] == "order without unit_id"


def test_with_one_open_product_the_same_orders_are_clamped_and_rejected():
    orders = book(
        start=[0, H, 0, 0, 0, 0],
        end=[H, 2 * H, H, H, H, H],
        price=[1, 1, np.nan, 900, 1, 1],
        volume=[1, 1, 1, 1, -np.inf, -500],
        bid_id=["ok", "late", "nan", "dear", "infinite", "big"],
    )
    valid, rejected = validate_orderbook(orders, MARKET, PRODUCTS[:1], {}, "op")
    assert valid.bid_id.tolist() == ["ok", "dear", "big"]
    assert valid.price.tolist() == [1, 500, 1]
    assert valid.volume.tolist() == [1, 1, -100]
    assert dict(rejected) == {
        "late": "product is not open on this market",
        "nan": "price and volume must be finite numbers",
        "infinite": "price and volume must be finite numbers",
    }
    within = book(price=[500, -100], volume=[100, -100], unit_id=["a", "b"])
    valid, rejected = validate_orderbook(within, MARKET, PRODUCTS[:1], {}, "op")
    assert valid is within and rejected == []
    assert valid.price.tolist() == [500, -100] and valid.volume.tolist() == [100, -100]


def test_market_dispatch_sums_a_units_orders_per_product():
    accepted = book(
        start=[0, 0, H, 0],
        end=[H, H, 2 * H, H],
        volume=[10, -4, 7, 3],
        unit_id=["x", "x", "x", "y"],
    )
    accepted.accepted_volume = accepted.volume.copy()
    rows = market_dispatch("EOM", accepted)
    assert rows["unit_id"].tolist() == ["x", "y", "x"]
    assert rows["power"].tolist() == [6, 3, 7]
    assert rows["datetime"].astype("int64").tolist() == [0, 0, H]
