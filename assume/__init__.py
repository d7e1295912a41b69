"""assume: agent-based electricity market simulation on mango-agents."""

from assume.markets.config import MarketConfig, MarketProduct
from assume.world import World

__all__ = ["MarketConfig", "MarketProduct", "World"]
__version__ = "0.1.0"
