"""Order validation (per operator, and for all operators of a clearing) and the result
tables of the market role."""

import numpy as np

from assume.markets import role as market_role
from assume.markets.config import MarketConfig, MarketProduct
from assume.markets.orderbook import Orderbook
from assume.markets.role import MarketRole, market_dispatch, validate_orderbook

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


def test_a_clearing_validates_all_operators_at_once_and_the_first_by_id_owns_a_unit(monkeypatch):
    """The market role validates the books of all operators at closing: units go to the first
    operator (by id) to bid them, in whatever order the books arrived; once every order is
    for an owned unit and within the limits, nothing is validated per operator."""
    market = MarketRole(MARKET, 0, 10 * H)

    def units(ids, price=10.0):
        if not ids:
            return Orderbook.empty()
        return book(unit_id=ids, volume=[50.0] * len(ids), price=price)

    per_operator = []
    validate = market_role.validate_orderbook

    def counted(*args):
        per_operator.append(args[-1])
        return validate(*args)

    monkeypatch.setattr(market_role, "validate_orderbook", counted)
    # the first clearing: "b" and "a" both bid unit "shared"; "a" comes first by id
    rejections = {}
    books, _ = market._validated(
        {"a": units(["shared", "a1"]), "b": units(["b1", "shared"])},
        PRODUCTS,
        rejections,
    )
    assert per_operator == ["a", "b"]
    assert books["a"].unit_id.tolist() == ["shared", "a1"]
    assert books["b"].unit_id.tolist() == ["b1"]
    assert rejections == {"b": [("shared_2", "unit shared belongs to operator a")]}
    # owned units within the limits: one check for the whole book, the same books back
    per_operator.clear()
    clean = {"a": units(["a1", "shared"]), "b": units(["b1"])}
    books, whole = market._validated(clean, PRODUCTS, {})
    assert books == clean and per_operator == []
    assert whole.unit_id.tolist() == ["a1", "shared", "b1"]
    # a price beyond the limit, another's unit, a new unit: only the books with such
    # orders go through the checks of validate_orderbook
    for books, checked in (
        ({"a": units(["a1"], price=900.0), "b": units(["b1"])}, ["a"]),
        ({"a": units(["a1"]), "b": units(["a1"])}, ["b"]),
        ({"a": units([]), "b": units(["b1"]), "c": units(["c1"])}, ["c"]),
        ({"a": units(["a1"], price=900.0), "b": units([])}, ["a"]),
        ({"a": units(["a2"]), "b": units(["b1"])}, ["a"]),
    ):
        per_operator.clear()
        rejections = {}
        validated, whole = market._validated(books, PRODUCTS, rejections)
        for column in ("unit_id", "price", "volume"):  # the checked books' columns in place
            expected = [value for b in validated.values() for value in getattr(b, column)]
            assert getattr(whole, column).tolist() == expected
        assert per_operator == checked
    assert validated["a"].unit_id.tolist() == ["a2"] and rejections == {}
    assert market.owner_of == {"shared": "a", "a1": "a", "b1": "b", "c1": "c", "a2": "a"}
    # without finite limits on a market, every book is checked
    market.market = MarketConfig("EOM", [MarketProduct(H, 2, 0)], maximum_bid_volume=None)
    per_operator.clear()
    market._validated({"a": units(["a1"]), "b": units(["b1"])}, PRODUCTS, {})
    assert per_operator == ["a", "b"]


def test_a_read_only_unit_id_column_found_owned_is_trusted_and_nothing_else():
    market = MarketRole(MARKET, 0, 10 * H)

    def frozen(ids):
        orders = book(unit_id=ids, volume=[50.0] * len(ids))
        orders.unit_id.flags.writeable = False
        return orders

    a_orders, b_orders = frozen(["a1", "a2"]), book(unit_id=["b1"])
    market._validated({"a": a_orders, "b": b_orders}, PRODUCTS, {})  # the units are claimed
    market._validated({"a": a_orders, "b": b_orders}, PRODUCTS, {})  # and found owned
    assert market._owned_columns == {"a": a_orders.unit_id}  # b's column could change
    rejections = {}
    _, whole = market._validated({"a": a_orders, "b": frozen(["a1", "b1"])}, PRODUCTS, rejections)
    assert rejections == {"b": [("a1_1", "unit a1 belongs to operator a")]}
    assert whole.unit_id.tolist() == ["a1", "a2", "b1"]
