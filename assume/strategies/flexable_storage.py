"""The flexABLE heuristic for storages (ASSUME's StorageEnergyHeuristicFlexableStrategy).

Per product a storage compares the price forecast with the average forecast over
``eom_foresight`` before and after it: at or above the average it offers to discharge at
average / discharge efficiency, below it bids to charge at average x charge efficiency.
Volumes follow the power limits, ramps and a state of charge that the strategy rolls
forward over the products of one opening as if every bid were accepted.
"""

from __future__ import annotations

import numpy as np

from assume.errors import ConfigurationError
from assume.markets.orderbook import Orderbook
from assume.strategies.base import BiddingStrategy
from assume.timeutil import parse_duration


class StorageEnergyHeuristicFlexableStrategy(BiddingStrategy):
    """Charge when the price forecast is below its moving average, discharge when above."""

    unit_types = ("storage",)

    def __init__(self, *args, **params):
        super().__init__(*args, **params)
        if self.forecasts is None:
            raise ConfigurationError(f"strategy {self.name!r} needs a price forecast")
        foresight = parse_duration(params.get("eom_foresight", "12h"), "eom_foresight")
        self.foresight_steps = foresight // self.fleet.index.step

    def calculate_bids(self, products: np.ndarray) -> Orderbook:
        fleet, rows = self.fleet, self.rows
        n, length = len(rows), fleet.index.length
        p = {key: values[rows] for key, values in fleet.p.items()}
        forecast = self.forecasts.price(self.market.market_id)
        per_product = []
        soc = previous = None
        for (start, end), step in zip(
            products.tolist(), self.steps(products).tolist(), strict=True
        ):
            if not 0 <= step < length:
                per_product.append((np.zeros(n), np.zeros(n)))
                continue
            if soc is None:
                soc = fleet.planned_soc(step)[rows]
                previous = fleet.energy[rows, step - 1] if step > 0 else np.zeros(n)
            current = fleet.energy[rows, step]
            soc_charge, soc_discharge = fleet.soc_power_limits(rows, soc)

            # ASSUME's calculate_min_max_charge / _discharge: relative to what is sold already
            least_charge = np.minimum(p["min_power_charge"] - current, 0.0)
            most_charge = p["max_power_charge"] - current
            most_charge = np.where(most_charge <= least_charge, most_charge, 0.0)
            least_charge = np.where(least_charge >= most_charge, least_charge, 0.0)
            most_charge = np.maximum(most_charge, soc_charge)
            least_discharge = np.maximum(p["min_power_discharge"] - current, 0.0)
            most_discharge = p["max_power_discharge"] - current
            most_discharge = np.where(most_discharge >= least_discharge, most_discharge, 0.0)
            least_discharge = np.where(least_discharge < most_discharge, least_discharge, 0.0)
            most_discharge = np.minimum(most_discharge, soc_discharge)

            # ramps, then the state of charge again; an offer below the minimum power is
            # dropped. (ASSUME first checks whether the unit can ramp back to 0 from the
            # opposite direction, which with an offer of 0 on top of the same-signed
            # current power never binds.)
            discharge = fleet.ramp_discharge(rows, previous, most_discharge, np.maximum(current, 0))
            discharge = np.minimum(discharge, soc_discharge)
            discharge = np.where(discharge < least_discharge, 0.0, discharge)
            charge = fleet.ramp_charge(rows, previous, most_charge, np.minimum(current, 0))
            charge = np.maximum(charge, soc_charge)
            charge = np.where(charge > least_charge, 0.0, charge)

            window = forecast[max(step - self.foresight_steps, 0) : step + self.foresight_steps + 1]
            average = np.mean(window)
            discharging = (forecast[step] >= average) & (discharge != 0)
            price = np.where(
                discharging, average / p["efficiency_discharge"], average * p["efficiency_charge"]
            )
            volume = np.where(discharging, discharge, charge)
            per_product.append((price, volume))

            # the state of charge if this bid were accepted in full
            hours = (end - start) / 3600.0
            total = volume + current
            delta = np.where(
                total > 0,
                -(total * hours / p["efficiency_discharge"]) / p["capacity"],
                -(total * hours * p["efficiency_charge"]) / p["capacity"],
            )
            soc = soc + delta
            previous = total
        return self.orders(products, per_product)
