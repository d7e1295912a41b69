"""Thermal and renewable power plants."""

from __future__ import annotations

import numpy as np

from assume.units.base import Fleet


class PowerPlantFleet(Fleet):
    """Power plants: marginal cost from fuel, CO2 and additional cost; availability,
    minimum power, ramp limits and minimum up/down times on offers and executed dispatch."""

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

    transient_series = ("fuel_price", "co2_price")
    derived = ("marginal_cost", "available_power")

    def derive(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        efficiency = self.p["efficiency"][:, None]
        marginal_cost = (
            inputs["fuel_price"] / efficiency
            + inputs["co2_price"] * self.p["emission_factor"][:, None] / efficiency
            + self.p["additional_cost"][:, None]
        )
        available_power = inputs["availability"] * self.p["max_power"][:, None]
        return {"marginal_cost": marginal_cost, "available_power": available_power}

    def prepare(self) -> None:
        # ASSUME applies ramp limits and minimum up/down times only to units with a ramp
        self.ramped = ~(np.isnan(self.p["ramp_up"]) & np.isnan(self.p["ramp_down"]))
        self.has_ramps = bool(self.ramped.any())
        self.memory = np.maximum(
            np.maximum(self.p["min_operating_time"], self.p["min_down_time"]), 1
        ).astype("int64")

    @property
    def needs_history(self) -> bool:
        return self.has_ramps

    @property
    def lookback(self) -> int:
        return int(self.memory.max(initial=1)) + 1

    def previous_power(self, rows, step: int) -> np.ndarray:
        """Power in the step before ``step`` (0 before the index starts)."""
        if step <= 0:
            return np.zeros(len(rows))
        return self.energy[rows, step - 1]

    def operation_time(self, rows, step: int) -> np.ndarray:
        """Steps the unit has run (> 0) or stood still (< 0) just before ``step``, looking back
        at most max(min_operating_time, min_down_time, 1) steps; before the index starts a unit
        counts as running that long."""
        memory = self.memory[rows]
        if step <= 0:
            return memory.copy()
        width = int(min(memory.max(), step))
        history = self.energy[rows, step - width : step][:, ::-1] > 0
        running = history[:, 0]
        same = history == running[:, None]
        same &= np.arange(width)[None, :] < np.minimum(memory, step)[:, None]
        run = np.where(same.all(axis=1), same.sum(axis=1), np.argmin(same, axis=1))
        return np.where(running, run, -run)

    def starting_costs(self, rows, op_time) -> np.ndarray:
        """Start-up cost (EUR) of each unit after standing still ``-op_time`` steps; 0 for a
        running unit (op_time > 0). As in ASSUME, the hot/warm/cold costs are per MW of
        max_power and the downtime thresholds are hours, compared with steps."""
        p = self.p
        hours = self.index.step / 3600.0
        downtime = np.abs(op_time)
        cost = np.where(
            downtime <= p["downtime_hot_start"][rows] / hours,
            p["hot_start_cost"][rows],
            np.where(
                downtime <= p["downtime_warm_start"][rows] / hours,
                p["warm_start_cost"][rows],
                p["cold_start_cost"][rows],
            ),
        )
        return np.where(op_time > 0, 0.0, cost * p["max_power"][rows])

    def ramp(self, rows, op_time, previous, power, current):
        """Limit an offer ``power`` on top of ``current`` (already sold) by minimum up/down
        times and ramp rates, given the power ``previous`` in the step before."""
        if not self.has_ramps:
            return power
        p = self.p
        up, down = p["ramp_up"][rows], p["ramp_down"][rows]
        min_power, max_power = p["min_power"][rows], p["max_power"][rows]
        limited = np.where(
            (power > 0) & (op_time < 0) & (op_time > -p["min_down_time"][rows]), 0.0, power
        )
        limited = np.where(
            (power == 0) & (op_time > 0) & (op_time < p["min_operating_time"][rows]),
            min_power,
            limited,
        )
        off = limited == 0
        with np.errstate(invalid="ignore"):
            limited = np.where(
                np.isnan(up),
                limited,
                np.minimum(limited, np.minimum(previous + up - current, max_power - current)),
            )
            limited = np.where(
                np.isnan(down),
                limited,
                np.maximum(limited, np.maximum(previous - down - current, min_power - current)),
            )
        limited = np.where(off, 0.0, limited)
        return np.where(self.ramped[rows], limited, power)

    def execute(self, first: int, stop: int) -> None:
        if not self.has_ramps:
            # without ramps each step stands alone: execute the whole window at once
            planned = self.energy[:, first:stop]
            self.energy[:, first:stop] = self._bounded(planned, first, stop)
        else:
            rows = np.arange(len(self))
            for step in range(first, stop):
                power = self.ramp(
                    rows,
                    self.operation_time(rows, step),
                    self.previous_power(rows, step),
                    self.energy[:, step],
                    0.0,
                )
                self.energy[:, step] = self._bounded(power[:, None], step, step + 1)[:, 0]
        self.generation_costs[:, first:stop] = (
            self.energy[:, first:stop] * self.marginal_cost[:, first:stop]
        )

    def _bounded(self, power, first: int, stop: int):
        """Running units produce between min_power and their available power."""
        return np.where(
            power > 0,
            np.maximum(
                np.minimum(power, self.available_power[:, first:stop]),
                self.p["min_power"][:, None],
            ),
            power,
        )
