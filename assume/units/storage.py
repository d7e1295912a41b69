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
        self.soc = np.zeros((len(self), self.index.length + 1))
        self.soc[:, 0] = self.p["initial_soc"]

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
        power = np.clip(power, self.p["max_power_charge"], self.p["max_power_discharge"])
        can_discharge = (
            (soc - self.p["min_soc"]) * capacity * self.p["efficiency_discharge"] / hours
        )
        can_charge = -(self.p["max_soc"] - soc) * capacity / self.p["efficiency_charge"] / hours
        return np.clip(power, np.minimum(can_charge, 0.0), np.maximum(can_discharge, 0.0))

    def execute(self, first: int, stop: int) -> None:
        hours = self.index.step / 3600.0
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
        columns["soc"] = self.soc[:, first:stop].ravel()
        return columns
