"""Cross-border exchange: import as supply, export as demand."""

from __future__ import annotations

from assume.units.base import Fleet


class ExchangeFleet(Fleet):
    """Exchanges: import (volume > 0, at price_import) and export (volume < 0, at price_export)."""

    unit_type = "exchange"
    parameters = {"price_import": 0.0, "price_export": 2999.0}
    series = {"import": 0.0, "export": 0.0}
