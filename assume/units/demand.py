"""Inelastic (or elastic) electricity demand."""

from __future__ import annotations

from assume.units.base import Fleet


class DemandFleet(Fleet):
    """Demands: a (negative) power series bid at ``price``; executed as accepted."""

    unit_type = "demand"
    parameters = {
        "max_power": 0.0,
        "min_power": 0.0,
        "price": 3000.0,
        "elasticity": 0.0,
        "num_bids": 1.0,
    }
    text_parameters = {"technology": "", "node": "node0", "elasticity_model": ""}
    series = {"volume": 0.0, "availability": 1.0}
