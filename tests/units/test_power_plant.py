"""Power plant constraints: availability, minimum power, ramps, minimum up/down times."""

import numpy as np
import pytest

from assume.timeutil import TimeIndex
from assume.units.power_plant import PowerPlantFleet

INDEX = TimeIndex(0, 3600, 6)


def fleet(**params):
    plants = PowerPlantFleet(INDEX)
    base = {"max_power": 500, "min_power": 100}
    base.update(params)
    plants.add("plant", base, {"availability": np.array([1, 1, 0.5, 1, 1, 1.0])})
    plants.freeze()
    return plants


def test_marginal_cost_formula():
    plants = PowerPlantFleet(INDEX)
    plants.add(
        "coal",
        {"max_power": 1, "efficiency": 0.4, "emission_factor": 0.3, "additional_cost": 2},
        {"fuel_price": np.full(6, 10.0), "co2_price": np.full(6, 20.0)},
    )
    plants.freeze()
    assert plants.marginal_cost[0, 0] == pytest.approx(10 / 0.4 + 20 * 0.3 / 0.4 + 2)


def test_executed_dispatch_respects_availability_and_min_power():
    plants = fleet()
    plants.energy[0] = [50, 600, 400, 0, 300, 100]
    plants.execute(0, 6)
    # below min power runs at min power, above available power is cut
    assert plants.energy[0].tolist() == [100, 500, 250, 0, 300, 100]


def test_ramp_limits_the_offer_and_the_dispatch():
    plants = fleet(ramp_up=150, ramp_down=100)
    rows = np.array([0])
    # from standstill the unit may offer ramp_up, but at least min_power
    offer = plants.ramp(rows, np.array([-3]), np.array([0.0]), np.array([500.0]), np.array([0.0]))
    assert offer.tolist() == [150.0]
    offer = plants.ramp(rows, np.array([2]), np.array([300.0]), np.array([500.0]), np.array([0.0]))
    assert offer.tolist() == [450.0]
    plants.energy[0] = [150, 500, 500, 0, 0, 0]
    plants.execute(0, 6)
    # ramping down applies to a running unit; stopping (power 0) is always allowed, as in ASSUME
    assert plants.energy[0].tolist() == [150, 300, 250, 0, 0, 0]


def test_minimum_down_time_keeps_a_stopped_unit_off():
    plants = fleet(ramp_up=1000, ramp_down=1000, min_down_time=3)
    plants.energy[0] = [200, 0, 300, 300, 300, 300]
    plants.execute(0, 6)
    assert plants.energy[0].tolist()[:4] == [200, 0, 0, 0]
    assert plants.energy[0, 4] == 300


def test_minimum_operating_time_keeps_a_started_unit_on():
    plants = fleet(ramp_up=1000, ramp_down=1000, min_operating_time=3, min_down_time=1)
    plants.energy[0] = [0, 200, 0, 0, 0, 0]
    plants.execute(0, 6)
    # started in step 1, it must run steps 1..3 (at least at min_power)
    assert plants.energy[0].tolist() == [0, 200, 100, 100, 0, 0]


def test_operation_time_counts_the_latest_run():
    plants = fleet(min_operating_time=4, min_down_time=2)
    plants.energy[0] = [0, 100, 100, 0, 0, 0]
    rows = np.array([0])
    assert plants.operation_time(rows, 0).tolist() == [4]  # before the index: running
    assert plants.operation_time(rows, 3).tolist() == [2]
    assert plants.operation_time(rows, 5).tolist() == [-2]


def test_units_without_ramps_ignore_min_up_and_down_times():
    plants = fleet(min_down_time=5)
    plants.energy[0] = [200, 0, 200, 0, 200, 0]
    plants.execute(0, 6)
    assert plants.energy[0].tolist() == [200, 0, 200, 0, 200, 0]
