"""Thermal and renewable power plants."""

from __future__ import annotations

import numpy as np

from assume.units.base import Fleet


def ramp_limit(previous, power, current, ramp_up, ramp_down):
    """Limit an additional offer ``power`` (on top of ``current`` already sold) so that the
    total stays within ramp_up/ramp_down of ``previous``; NaN ramps are unlimited."""
    upper = np.where(np.isnan(ramp_up), np.inf, previous + ramp_up - current)
    lower = np.where(np.isnan(ramp_down), -np.inf, previous - ramp_down - current)
    return np.maximum(np.minimum(power, upper), np.maximum(lower, 0.0))


class PowerPlantFleet(Fleet):
    """Power plants: marginal cost from fuel, CO2 and additional cost; availability,
    minimum power and ramp limits on the executed dispatch."""

    unit_type = "power_plant"
    parameters = {
        "max_power": None,
        "min_power": 0.0,
        "efficiency": 1.0,
        "emission_factor": 0.0,
        "additional_cost": 0.0,
        "ramp_up": np.nan,
        "ramp_down": np.nan,
        "min_operating_time": 1.0,
        "min_down_time": 1.0,
        "hot_start_cost": 0.0,
        "warm_start_cost": 0.0,
        "cold_start_cost": 0.0,
        "downtime_hot_start": 0.0,
        "downtime_warm_start": 0.0,
    }
    text_parameters = {"technology": "", "node": "node0", "fuel_type": "others"}
    series = {"availability": 1.0, "fuel_price": 0.0, "co2_price": 0.0}

    def prepare(self) -> None:
        efficiency = self.p["efficiency"][:, None]
        self.marginal_cost = (
            self.s["fuel_price"] / efficiency
            + self.s["co2_price"] * self.p["emission_factor"][:, None] / efficiency
            + self.p["additional_cost"][:, None]
        )
        self.available_power = self.s["availability"] * self.p["max_power"][:, None]
        self.has_ramps = bool(
            len(self) and not (np.isnan(self.p["ramp_up"]) & np.isnan(self.p["ramp_down"])).all()
        )

    def previous_power(self, rows, step: int) -> np.ndarray:
        """Executed power in the step before ``step`` (0 before the index starts)."""
        if step <= 0:
            return np.zeros(len(rows))
        return self.energy[rows, step - 1]

    def ramp(self, rows, previous, power, current):
        if not self.has_ramps:
            return power
        return ramp_limit(
            previous, power, current, self.p["ramp_up"][rows], self.p["ramp_down"][rows]
        )

    def execute(self, first: int, stop: int) -> None:
        if not self.has_ramps:
            # without ramps each step stands alone: execute the whole window at once
            planned = self.energy[:, first:stop]
            power = np.where(
                planned > 0,
                np.maximum(
                    np.minimum(planned, self.available_power[:, first:stop]),
                    self.p["min_power"][:, None],
                ),
                planned,
            )
            self.energy[:, first:stop] = power
            self.generation_costs[:, first:stop] = power * self.marginal_cost[:, first:stop]
            return
        rows = np.arange(len(self))
        for step in range(first, stop):
            planned = self.energy[:, step]
            power = self.ramp(rows, self.previous_power(rows, step), planned, 0.0)
            running = power > 0
            power = np.where(
                running,
                np.maximum(np.minimum(power, self.available_power[:, step]), self.p["min_power"]),
                power,
            )
            self.energy[:, step] = power
            self.generation_costs[:, step] = power * self.marginal_cost[:, step]
