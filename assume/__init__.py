"""assume: agent-based electricity market simulation on mango-agents."""

from assume.lazy_imports import defer

defer("networkx")  # before mango imports it (see assume.lazy_imports)

from assume.markets.config import MarketConfig, MarketProduct  # noqa: E402
from assume.world import World  # noqa: E402

__all__ = ["MarketConfig", "MarketProduct", "World"]
__version__ = "0.1.0"
