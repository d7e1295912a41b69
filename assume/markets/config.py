"""Market configuration: products, the opening schedule and bid limits.

Follows ASSUME's conventions (SCENARIO_FORMAT.md): a market opens every
``opening_frequency`` from its start, offers for each product definition
``count`` consecutive windows of ``duration`` starting ``first_delivery`` after
the opening, and clears ``opening_duration`` after opening. No opening is made
whose products would end after the market's end.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from assume.errors import ConfigurationError
from assume.timeutil import parse_datetime, parse_duration

logger = logging.getLogger(__name__)

_KNOWN_KEYS = {
    "operator",
    "product_type",
    "products",
    "opening_frequency",
    "opening_duration",
    "market_mechanism",
    "maximum_bid_volume",
    "maximum_bid_price",
    "minimum_bid_price",
    "start_date",
    "end_date",
    "additional_fields",
    "param_dict",
    "volume_unit",
    "price_unit",
    "volume_tick",
    "price_tick",
    "maximum_gradient",
    "supports_get_unmatched",
    "eligible_obligations_lambda",
    "market_id",
}
# ASSUME's keys that this simulator reads but does not apply: a value other than none (or
# false) is named in a warning rather than dropped without a word
_NOT_APPLIED = (
    "volume_tick",
    "price_tick",
    "maximum_gradient",
    "supports_get_unmatched",
    "eligible_obligations_lambda",
)


@dataclass(frozen=True)
class MarketProduct:
    """A product definition: ``count`` windows of ``duration`` s, the first ``first_delivery`` s
    after the opening."""

    duration: int
    count: int = 1
    first_delivery: int = 0

    def __post_init__(self):
        if self.duration <= 0:
            raise ConfigurationError(f"product duration must be positive, got {self.duration} s")
        if self.count < 1:
            raise ConfigurationError(f"product count must be at least 1, got {self.count}")


@dataclass
class MarketConfig:
    """Everything a market operator needs to run one market."""

    market_id: str
    products: list[MarketProduct]
    opening_frequency: int = 3600
    opening_duration: int = 3600
    market_mechanism: str = "pay_as_clear"
    product_type: str = "energy"
    maximum_bid_volume: float | None = 2000.0
    maximum_bid_price: float | None = 3000.0
    minimum_bid_price: float | None = -500.0
    start: int | None = None
    end: int | None = None
    operator: str = "market_operator"
    volume_unit: str = "MW"
    price_unit: str = "EUR/MWh"
    param_dict: dict = field(default_factory=dict)
    additional_fields: list[str] = field(default_factory=list)

    def __post_init__(self):
        if not self.products:
            raise ConfigurationError(f"market {self.market_id}: needs at least one product")
        if self.opening_frequency <= 0:
            raise ConfigurationError(f"market {self.market_id}: opening_frequency must be positive")
        if self.opening_duration < 0:
            raise ConfigurationError(f"market {self.market_id}: opening_duration must be >= 0")

    @classmethod
    def from_dict(cls, market_id: str, raw: dict, where: str = "config.yaml") -> MarketConfig:
        """Build from a ``markets_config`` entry; errors name ``where`` and the field."""
        if not isinstance(raw, dict):
            raise ConfigurationError(
                f"{where}: markets_config.{market_id} must be a mapping, got {type(raw).__name__}"
            )
        prefix = f"{where}: markets_config.{market_id}"
        unknown = sorted(set(raw) - _KNOWN_KEYS)
        if unknown:
            raise ConfigurationError(
                f"{prefix}: unknown key(s) {', '.join(unknown)}; known keys are "
                f"{', '.join(sorted(_KNOWN_KEYS))}"
            )
        for key in _NOT_APPLIED:
            if raw.get(key) not in (None, False, 0):
                logger.warning(
                    "%s.%s = %r is not applied by this simulator (bids and clearing ignore "
                    "it); the market runs as if it were not set",
                    prefix,
                    key,
                    raw[key],
                )
        raw_products = raw.get("products")
        if not isinstance(raw_products, list) or not raw_products:
            raise ConfigurationError(
                f"{prefix}.products: expected a list of {{duration, count, first_delivery}}"
            )
        products = []
        for number, item in enumerate(raw_products):
            where_item = f"{prefix}.products[{number}]"
            if not isinstance(item, dict) or "duration" not in item:
                raise ConfigurationError(f"{where_item}: expected a mapping with a duration")
            count = item.get("count", 1)
            if not isinstance(count, int) or isinstance(count, bool):
                raise ConfigurationError(f"{where_item}.count: expected an integer, got {count!r}")
            products.append(
                MarketProduct(
                    duration=parse_duration(item["duration"], f"{where_item}.duration"),
                    count=count,
                    first_delivery=parse_duration(
                        item.get("first_delivery", 0), f"{where_item}.first_delivery"
                    ),
                )
            )

        def limit(key, default):
            value = raw.get(key, default)
            if value is None:
                return None
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigurationError(f"{prefix}.{key}: expected a number, got {value!r}")
            return float(value)

        def optional_date(key):
            value = raw.get(key)
            return None if value is None else parse_datetime(value, f"{prefix}.{key}")

        mechanism = raw.get("market_mechanism", "pay_as_clear")
        if not isinstance(mechanism, str):
            raise ConfigurationError(
                f"{prefix}.market_mechanism: expected a name, got {mechanism!r}"
            )
        return cls(
            market_id=str(market_id),
            products=products,
            opening_frequency=parse_duration(
                raw.get("opening_frequency", "1h"), f"{prefix}.opening_frequency"
            ),
            opening_duration=parse_duration(
                raw.get("opening_duration", "1h"), f"{prefix}.opening_duration"
            ),
            market_mechanism=mechanism,
            product_type=str(raw.get("product_type", "energy")),
            maximum_bid_volume=limit("maximum_bid_volume", 2000.0),
            maximum_bid_price=limit("maximum_bid_price", 3000.0),
            minimum_bid_price=limit("minimum_bid_price", -500.0),
            start=optional_date("start_date"),
            end=optional_date("end_date"),
            operator=str(raw.get("operator", "market_operator")),
            volume_unit=str(raw.get("volume_unit", "MW")),
            price_unit=str(raw.get("price_unit", "EUR/MWh")),
            param_dict=dict(raw.get("param_dict") or {}),
            additional_fields=list(raw.get("additional_fields") or []),
        )

    def products_at(self, opening: int) -> np.ndarray:
        """The delivery windows offered by the opening at ``opening``: an (n, 2) int64 array."""
        windows = []
        for product in self.products:
            first = opening + product.first_delivery
            for number in range(product.count):
                start = first + number * product.duration
                windows.append((start, start + product.duration))
        return np.array(windows, dtype="int64").reshape(-1, 2)

    def last_delivery(self, opening: int) -> int:
        """The end of the latest product of an opening."""
        return max(opening + p.first_delivery + p.count * p.duration for p in self.products)

    def openings(self, sim_start: int, sim_end: int) -> np.ndarray:
        """Opening times within the horizon, as ASSUME schedules them: every opening_frequency
        from the start; an opening whose products would end after the end is dropped, except
        the first; none closes after the end."""
        start = sim_start if self.start is None else max(self.start, sim_start)
        end = sim_end if self.end is None else min(self.end, sim_end)
        times = np.arange(start, end + 1, self.opening_frequency, dtype="int64")
        return times[self._held(times, end, first=start)]

    def _held(self, times: np.ndarray, end: int, first: int | None = None) -> np.ndarray:
        """Whether openings at ``times`` are held before ``end``: their products end and they
        close by then (the first opening, at ``first``, need only close)."""
        reach = max(p.first_delivery + p.count * p.duration for p in self.products)
        fits = times + reach <= end
        if first is not None:
            fits |= times == first
        return fits & (times + self.opening_duration <= end)

    def next_products(self, products: np.ndarray, sim_end: int) -> np.ndarray | None:
        """The products of the opening after the one that offered ``products``; None if
        :meth:`openings` holds none before ``sim_end``."""
        if not len(products):
            return None
        # the earliest product starts the smallest first_delivery after its opening
        opening = int(products[:, 0].min()) - min(p.first_delivery for p in self.products)
        following = np.array([opening + self.opening_frequency])
        end = sim_end if self.end is None else min(self.end, sim_end)
        return self.products_at(int(following[0])) if self._held(following, end)[0] else None
