"""Electricity storage with a state of charge."""

from __future__ import annotations

import numpy as np

from assume.units.base import Fleet


class StorageFleet(Fleet):
    """Storages: discharge (> 0) and charge (< 0) within power limits, with efficiencies and a
    state of charge (share of capacity) kept within [min_soc, max_soc]."""

    unit_type = "storage"
    parameters = {
        "max_power_charge": None,
        "max_power_discharge": None,
        "min_power_charge": 0.0,
        "min_power_discharge": 0.0,
        "efficiency_charge": 1.0,
        "efficiency_discharge": 1.0,
        "min_soc": 0.0,
        "max_soc": 1.0,
        "capacity": None,
        "initial_soc": 0.0,
        "additional_cost_charge": 0.0,
        "additional_cost_discharge": 0.0,
        "ramp_up_charge": np.nan,
        "ramp_down_charge": np.nan,
        "ramp_up_discharge": np.nan,
        "ramp_down_discharge": np.nan,
    }
    series = {"availability": 1.0}

    def prepare(self) -> None:
        # charge powers are negative whatever sign the input used
        self.p["max_power_charge"] = -np.abs(self.p["max_power_charge"])
        self.p["max_power_discharge"] = np.abs(self.p["max_power_discharge"])
        self.p["min_power_charge"] = -np.abs(self.p["min_power_charge"])
        self.p["min_power_discharge"] = np.abs(self.p["min_power_discharge"])
        for ramp in ("ramp_up_charge", "ramp_down_charge"):
            self.p[ramp] = -np.abs(self.p[ramp])
        self.soc = self.timeline(extra_steps=1)
        self.soc[:, 0] = self.p["initial_soc"]
        self.executed_until = 0  # soc[:, :executed_until + 1] is final

    @property
    def needs_history(self) -> bool:
        return True

    def soc_after(self, soc, power, hours):
        """State of charge after ``hours`` at ``power`` (> 0 discharging) from ``soc``."""
        capacity = self.p["capacity"]
        delta = np.where(
            power > 0,
            -power * hours / self.p["efficiency_discharge"],
            -power * hours * self.p["efficiency_charge"],
        )
        return soc + delta / capacity

    def feasible_power(self, soc, power, hours):
        """Clip ``power`` to the power limits and to what the state of charge allows."""
        capacity = self.p["capacity"]
        # np.minimum and np.maximum pick what np.clip would, without its Python wrappers
        # (this runs for every unit at every step)
        power = np.minimum(
            np.maximum(power, self.p["max_power_charge"]), self.p["max_power_discharge"]
        )
        can_discharge = (
            (soc - self.p["min_soc"]) * capacity * self.p["efficiency_discharge"] / hours
        )
        can_charge = -(self.p["max_soc"] - soc) * capacity / self.p["efficiency_charge"] / hours
        return np.minimum(
            np.maximum(power, np.minimum(can_charge, 0.0)), np.maximum(can_discharge, 0.0)
        )

    def soc_power_limits(self, rows, soc) -> tuple[np.ndarray, np.ndarray]:
        """Largest charge (<= 0) and discharge (>= 0) power that one index step at ``soc``
        allows, before power limits."""
        p, hours = self.p, self.index.step / 3600.0
        capacity = p["capacity"][rows]
        charge = (soc - p["max_soc"][rows]) * capacity / p["efficiency_charge"][rows] / hours
        discharge = (soc - p["min_soc"][rows]) * capacity * p["efficiency_discharge"][rows] / hours
        return np.minimum(charge, 0.0), np.maximum(discharge, 0.0)

    def ramp_discharge(self, rows, previous, power, current):
        """Limit an additional discharge offer ``power`` (on top of ``current`` already sold)
        by max_power_discharge and the discharge ramps, from ``previous`` (ASSUME's rule)."""
        p = self.p
        previous = np.maximum(previous, 0.0)
        power = np.minimum(power, p["max_power_discharge"][rows] - current)
        up, down = p["ramp_up_discharge"][rows], p["ramp_down_discharge"][rows]
        with np.errstate(invalid="ignore"):
            ramped = np.minimum(power, np.maximum(previous + up - current, 0.0))
            power = np.where(np.isnan(up), power, ramped)
            ramped = np.maximum(np.maximum(power, previous - down - current), 0.0)
            return np.where(np.isnan(down) | (power == 0), power, ramped)

    def ramp_charge(self, rows, previous, power, current):
        """Limit an additional charge offer ``power`` (< 0, on top of ``current``) by
        max_power_charge and the (negative) charge ramps, from ``previous`` (ASSUME's rule)."""
        p = self.p
        previous = np.minimum(previous, 0.0)
        power = np.maximum(power, p["max_power_charge"][rows] - current)
        up, down = p["ramp_up_charge"][rows], p["ramp_down_charge"][rows]
        with np.errstate(invalid="ignore"):
            ramped = np.maximum(power, np.minimum(previous + up - current, 0.0))
            power = np.where(np.isnan(up), power, ramped)
            ramped = np.minimum(np.minimum(power, previous - down - current), 0.0)
            return np.where(np.isnan(down) | (power == 0), power, ramped)

    def planned_soc(self, step: int) -> np.ndarray:
        """State of charge at the start of ``step``: the executed one, rolled forward over the
        accepted but not yet executed dispatch (as ASSUME updates soc when it books results)."""
        hours = self.index.step / 3600.0
        soc = self.soc[:, min(self.executed_until, step)]
        for planned in range(self.executed_until, min(step, self.index.length)):
            power = self.feasible_power(soc, self.energy[:, planned], hours)
            soc = self.soc_after(soc, power, hours)
        return soc

    def execute(self, first: int, stop: int) -> None:
        hours = self.index.step / 3600.0
        self.executed_until = max(self.executed_until, stop)
        for step in range(first, stop):
            power = self.feasible_power(self.soc[:, step], self.energy[:, step], hours)
            self.energy[:, step] = power
            self.soc[:, step + 1] = self.soc_after(self.soc[:, step], power, hours)
            self.generation_costs[:, step] = np.where(
                power > 0,
                power * self.p["additional_cost_discharge"],
                -power * self.p["additional_cost_charge"],
            )

    def dispatch_columns(self, first: int, stop: int) -> dict[str, np.ndarray]:
        columns = super().dispatch_columns(first, stop)
        columns["soc"] = self.soc[:, first:stop].flatten()
        return columns
