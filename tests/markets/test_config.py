"""Market configuration: the opening schedule and products."""

import itertools

import numpy as np
import pytest

from assume.errors import ConfigurationError
from assume.markets.config import MarketConfig, MarketProduct
from assume.timeutil import parse_datetime

DAY = 86400
START = parse_datetime("2019-01-01 00:00")


def hourly(**extra):
    raw = {
        "products": [{"duration": "1h", "count": 1, "first_delivery": "1h"}],
        "opening_frequency": "1h",
        "opening_duration": "1h",
    }
    raw.update(extra)
    return MarketConfig.from_dict("EOM", raw)


def test_hourly_market_over_one_day_has_23_openings():
    openings = hourly().openings(START, START + DAY)
    assert len(openings) == 23
    assert openings[0] == START and openings[-1] == START + 22 * 3600
    assert hourly().products_at(openings[-1]).tolist() == [[START + 23 * 3600, START + DAY]]


def test_day_ahead_market_offers_24_hours_of_the_next_day():
    market = MarketConfig.from_dict(
        "DAM",
        {
            "products": [{"duration": "1h", "count": 24, "first_delivery": "24h"}],
            "opening_frequency": "24h",
            "opening_duration": "1h",
        },
    )
    # three days: openings on day 1 and 2 deliver days 2 and 3; day 3's would end after the end
    openings = market.openings(START, START + 3 * DAY)
    assert openings.tolist() == [START, START + DAY]
    products = market.products_at(START)
    assert len(products) == 24
    assert products[0].tolist() == [START + DAY, START + DAY + 3600]
    assert products[-1].tolist() == [START + 2 * DAY - 3600, START + 2 * DAY]


@pytest.mark.parametrize("market_end", [None, "2019-01-01 12:00"])
def test_the_next_openings_products_follow_the_schedule(market_end):
    market = hourly() if market_end is None else hourly(end_date=market_end)
    end = START + DAY
    openings = market.openings(START, end)
    for opening, following in itertools.pairwise(openings):
        offered = market.next_products(market.products_at(opening), end)
        assert offered.tolist() == market.products_at(following).tolist()
    # after the last opening there is none to offer
    assert market.next_products(market.products_at(openings[-1]), end) is None
    assert market.next_products(market.products_at(openings[0])[:0], end) is None


def test_the_next_openings_products_for_random_schedules():
    """Against openings() itself: product definitions that overlap or start before their
    opening, frequencies and ends off the products' grid, market dates inside and outside."""
    rng = np.random.default_rng(8)
    unit = 900
    for _ in range(2000):
        products = [
            MarketProduct(
                unit * int(rng.integers(1, 8)),
                int(rng.integers(1, 4)),
                unit * int(rng.integers(-4, 12)) + int(rng.choice([0, 60])),
            )
            for _ in range(int(rng.integers(1, 4)))
        ]
        start = unit * int(rng.integers(0, 4))
        end = start + unit * int(rng.integers(0, 60)) + int(rng.choice([0, 1, 450]))
        market = MarketConfig(
            "M",
            products,
            opening_frequency=unit * int(rng.integers(1, 12)) + int(rng.choice([0, 300])),
            opening_duration=unit * int(rng.integers(0, 6)),
            start=None if rng.random() < 0.5 else start + unit * int(rng.integers(-4, 20)),
            end=None if rng.random() < 0.5 else start + unit * int(rng.integers(-4, 70)),
        )
        openings = market.openings(start, end).tolist()
        for opening, following in itertools.zip_longest(openings, openings[1:]):
            # as the market role sends them: nothing that starts after the end
            offered = market.products_at(opening)
            offered = offered[offered[:, 0] <= end]
            upcoming = market.next_products(offered, end)
            if following is None or not len(offered):
                assert upcoming is None
            else:
                assert upcoming.tolist() == market.products_at(following).tolist()


def test_market_dates_narrow_the_schedule():
    market = hourly(start_date="2019-01-01 06:00", end_date="2019-01-01 12:00")
    openings = market.openings(START, START + DAY)
    assert openings[0] == START + 6 * 3600
    # the 11:00 opening's product 12:00-13:00 would end after the market's end
    assert openings[-1] == START + 10 * 3600


@pytest.mark.parametrize(
    "frequency, seconds",
    [("15min", 900), ("15m", 900), ("1d", DAY), ("7d", 7 * DAY), ("1w", 7 * DAY)],
)
def test_opening_frequency_spellings(frequency, seconds):
    assert hourly(opening_frequency=frequency).opening_frequency == seconds


def test_several_product_definitions_in_one_opening():
    market = MarketConfig(
        "M", [MarketProduct(3600, 2, 0), MarketProduct(4 * 3600, 1, 0)], opening_frequency=DAY
    )
    assert market.products_at(0).tolist() == [[0, 3600], [3600, 7200], [0, 14400]]


def test_the_first_opening_happens_even_if_its_products_reach_past_the_end():
    # as in ASSUME: the first opening always runs if it closes within the horizon
    assert hourly().openings(START, START + 3600).tolist() == [START]
    assert len(hourly().openings(START, START + 1800)) == 0  # it would close after the end
    assert isinstance(hourly().openings(START, START), np.ndarray)


@pytest.mark.parametrize(
    "raw, message",
    [
        ({"products": []}, "products: expected a list"),
        ({"products": [{"count": 1}]}, r"products\[0\]: expected a mapping with a duration"),
        ({"products": [{"duration": "soon"}]}, r"products\[0\].duration: expected a duration"),
        ({"products": [{"duration": "1h"}], "opening_frequency": "often"}, "opening_frequency"),
        (
            {"products": [{"duration": "1h"}], "maximum_bid_price": "high"},
            "maximum_bid_price: expected a number",
        ),
        ({"products": [{"duration": "1h"}], "colour": "red"}, "unknown key"),
    ],
)
def test_invalid_market_configs_name_the_field(raw, message):
    with pytest.raises(ConfigurationError, match=message):
        MarketConfig.from_dict("EOM", raw, "scenario/config.yaml")


def test_keys_read_but_not_applied_are_named_in_a_warning(caplog):
    """ASSUME's price_tick and the like are accepted (ASSUME's configs carry them) but not
    applied here: set, they are named in a warning instead of dropped without a word."""
    with caplog.at_level("WARNING"):
        hourly(price_tick=0.1, supports_get_unmatched=False, volume_tick=None)
    assert len(caplog.records) == 1
    message = caplog.records[0].getMessage()
    assert "markets_config.EOM.price_tick = 0.1 is not applied" in message
