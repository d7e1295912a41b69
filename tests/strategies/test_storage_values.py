"""The storages' dynamic programme (assume/strategies/storage_values.py): both of its ways
against a reference that tries every move, the feasible moves against storage_reward, its
batches and its pieces of work."""

import itertools

import numpy as np
import pytest

import assume.strategies.storage_values as dynamic_programme
from assume.lookahead import complete
from assume.strategies import optimized
from assume.strategies.optimized import storage_reward
from assume.strategies.storage_values import (
    STORAGE_PARAMETERS,
    _backward,
    _most_levels,
    move_ranges,
    reach_batches,
    storage_terms,
    storage_value_steps,
    storage_values,
)
from assume.units.storage import StorageFleet


def storage_units(n: int, given: dict) -> dict:
    """STORAGE_PARAMETERS of ``n`` storages: ``given`` arrays, the fleet's defaults else."""
    return {
        key: given[key] if key in given else np.full(n, float(StorageFleet.parameters[key]))
        for key in STORAGE_PARAMETERS
    }


def units_of(**params):
    defaults = {**StorageFleet.parameters, **params}
    return {key: np.array([float(defaults[key])]) for key in STORAGE_PARAMETERS}


def test_value_function_matches_brute_force_over_all_level_paths():
    rng = np.random.default_rng(3)
    steps, hours = 4, 1.0
    units = units_of(
        max_power_charge=-20,
        max_power_discharge=30,
        capacity=40,
        efficiency_charge=0.8,
        efficiency_discharge=0.9,
        additional_cost_discharge=2,
    )
    for _ in range(5):
        price = rng.uniform(-20, 100, steps)
        levels, values = storage_values(price, np.ones((1, steps)), hours, units, 5)
        grid = levels[0] * 40  # MWh at each level
        for start in range(5):
            best = -np.inf
            for path in itertools.product(range(5), repeat=steps):
                energy = grid[[start, *path]]
                stored = np.diff(energy)
                power = np.where(stored > 0, -stored / 0.8, -stored * 0.9)
                if (power < -20 - 1e-9).any() or (power > 30 + 1e-9).any():
                    continue
                gain = (price * power).sum() - 2 * power[power > 0].sum()
                best = max(best, gain)
            assert values[0, 0, start] == pytest.approx(best)


def random_storages(rng, n, tiny=False):
    """STORAGE_PARAMETERS of ``n`` storages of random power, duration, efficiency and costs,
    half of them with minimum powers; with ``tiny``, the first holds levels smaller than the
    power tolerance and the second has a minimum power of the wrong sign."""
    power = rng.uniform(1, 50, n)
    given = {
        "max_power_charge": -power,
        "max_power_discharge": power * rng.uniform(0.5, 1.5, n),
        "capacity": power * rng.uniform(0.5, 8, n),
        "efficiency_charge": rng.uniform(0.7, 1, n),
        "efficiency_discharge": rng.uniform(0.7, 1, n),
        "min_power_charge": -np.where(rng.random(n) < 0.5, rng.uniform(0, 10, n), 0),
        "min_power_discharge": np.where(rng.random(n) < 0.5, rng.uniform(0, 10, n), 0),
        "additional_cost_charge": rng.uniform(0, 3, n),
        "additional_cost_discharge": rng.uniform(0, 3, n),
    }
    if tiny:
        given["capacity"][0] = 1e-5
        given["min_power_discharge"][-1] = -3.0
    return storage_units(n, given)


def every_move(price, availability, hours, units, levels):
    """The value function by trying every move from every level in every step, each priced
    by storage_reward: what storage_values computes from range maxima."""
    n, steps = availability.shape
    terms = storage_terms(price, availability, hours, units)
    level_energy = (units["max_soc"] - units["min_soc"]) * units["capacity"] / (levels - 1)
    values = np.zeros((steps + 1, n, levels))
    moves = np.arange(-(levels - 1), levels)  # levels up, < 0 down
    for t in range(steps - 1, -1, -1):
        step_terms = {key: term[:, t, None] for key, term in terms.items()}
        reward = storage_reward(moves * level_energy[:, None], step_terms, hours)  # (n, moves)
        for k in range(levels):
            reached = k + moves
            inside = (reached >= 0) & (reached < levels)
            candidates = values[t + 1][:, reached[inside]] + reward[:, inside]
            values[t, :, k] = candidates.max(axis=1)
    return values


# each way of the programme, whatever it would choose by cost
WAYS = {"tried": 1e18, "ranges": -1e18}


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("seed", range(8))
def test_value_function_is_that_of_trying_every_move(seed, way, monkeypatch):
    """Storages of every reach, minimum powers, availability that varies and drops to zero,
    levels below the power tolerance: both ways give the values of trying every move from
    every level (to rounding: the range maxima add the reward after the maximum)."""
    monkeypatch.setattr(dynamic_programme, "TABLE_OVERHEAD", WAYS[way])
    rng = np.random.default_rng(seed)
    n, steps, levels = 5, 12, int(rng.integers(2, 40))
    units = random_storages(rng, n, tiny=seed % 2 == 0)
    price = rng.uniform(-50, 100, steps)
    availability = rng.uniform(0, 1, (n, steps)) * (rng.random((n, steps)) < 0.8)
    _, values = storage_values(price, availability, 1.0, units, levels)
    expected = every_move(price, availability, 1.0, units, levels)
    assert np.allclose(values, expected, rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("seed", range(4))
def test_move_ranges_are_the_moves_storage_reward_finds_feasible(seed):
    """The ranges hold exactly the moves whose reward is finite: the programme and the orders
    built from it agree on every move, to the last bit of the power limits."""
    rng = np.random.default_rng(seed)
    n, steps, levels = 6, 10, 30
    units = random_storages(rng, n, tiny=True)
    # levels of 1 MWh; a minimum discharge of the wrong sign lets it charge 1 to 3 levels
    # below its minimum charge
    for key, value in (("capacity", 29), ("min_power_charge", -10), ("max_power_charge", -50)):
        units[key][-1] = value
    availability = rng.uniform(0, 1, (n, steps))
    availability[:, 0] = 1.0
    terms = storage_terms(rng.uniform(-50, 100, steps), availability, 1.0, units)
    level_energy = units["capacity"] / (levels - 1)
    # power limits on a level's energy (to the float), where rounding decides
    terms["most_in"][:, 0] = 3 * level_energy - 1e-6
    ranges = move_ranges(terms, level_energy, 1e-6, levels - 1)
    moves = np.arange(1, levels)
    for side, sign in (("in", 1), ("out", -1)):
        for t in range(steps):
            step_terms = {key: term[:, t, None] for key, term in terms.items()}
            reward = storage_reward(sign * moves * level_energy[:, None], step_terms, 1.0)
            found = np.zeros((n, len(moves)), bool)
            for range_side, first, last in ranges:
                if range_side == side:
                    found |= (moves >= first[:, t, None]) & (moves <= last[:, t, None])
            assert np.array_equal(found, np.isfinite(reward)), (side, t)
    # the wrong-sign minimum: moves of 1 to 3 levels, then none up to the minimum charge
    first_charges = [first[-1, 0] for side, first, _ in ranges if side == "in"]
    assert sorted(first_charges) == [1, int(np.ceil(10 * units["efficiency_charge"][-1]))]


def test_levels_within_a_bound_are_counted_by_the_float_product():
    """The most levels whose energy is within a bound, by the product w x L that
    storage_reward computes: where the division rounds the other way, it is corrected."""
    for energy, bound in (
        (5.440813664739574, 794.3587950519777),
        (9.951014087300887, 1233.92574682531),
    ):
        most = _most_levels(np.array([energy]), np.array([[bound]]), 200)[0, 0]
        assert most * energy <= bound < (most + 1) * energy
        assert np.floor(bound / energy) != most  # the division alone is off by one


def test_storages_of_different_reach_are_solved_in_batches_with_the_same_values(monkeypatch):
    """Trying every move: storages that fill in two hours and in eight are solved apart
    (each batch only tries the moves its units can make), and each unit's values are exactly
    those of solving all units together with the widest moves any of them can make."""
    # a unit's reach in levels (up, down): three slow units and a fast one
    assert [
        b.tolist() for b in reach_batches(np.array([5, 90, 5, 6]), np.array([5, 95, 6, 5]), 201)
    ] == [
        [0, 2, 3],
        [1],
    ]
    # alike units stay together: one more batch costs more than the moves it saves
    assert [b.tolist() for b in reach_batches(np.array([5, 6, 5]), np.array([5, 5, 6]), 201)] == [
        [0, 1, 2]
    ]
    monkeypatch.setattr(dynamic_programme, "TABLE_OVERHEAD", WAYS["tried"])
    rng = np.random.default_rng(11)
    steps, hours, levels = 30, 1.0, 101
    power = np.array([50.0, 10.0, 10.0, 40.0, 10.0])
    given = {
        "max_power_charge": -power,
        "max_power_discharge": power,
        "capacity": power * np.array([2, 8, 8, 2, 6]),
        "efficiency_charge": np.array([0.93, 0.85, 0.95, 0.91, 0.8]),
        "efficiency_discharge": np.array([0.9, 0.9, 0.85, 0.95, 0.8]),
        "min_power_discharge": np.array([0, 0, 2.0, 0, 0]),
    }
    units = storage_units(5, given)
    price = rng.uniform(-100, 100, steps)
    availability = np.ones((5, steps))
    availability[:, ::3] = rng.uniform(0.5, 1.0, (5, 10))
    _, values = storage_values(price, availability, hours, units, levels)
    # all together, with the widest reach any of them has
    level_energy = units["capacity"] / (levels - 1)
    terms = storage_terms(price, availability, hours, units)
    together = np.zeros_like(values)
    widest = int(np.ceil((terms["most_in"] / level_energy[:, None]).max())) + 1
    widest_out = int(np.ceil((terms["most_out"] / level_energy[:, None]).max())) + 1
    complete(_backward(together, terms, level_energy, hours, widest, widest_out))
    assert np.array_equal(values, together)
    assert len(reach_batches(*_reaches(terms, level_energy, hours, levels), levels)) > 1


@pytest.mark.parametrize("way", WAYS)
def test_small_pieces_of_work_give_the_same_values(way, monkeypatch):
    """As a job (assume.lookahead), the programme works in pieces of about PIECE_VALUES
    values (rewards, steps of many units, copies of batches; table values): any size of
    piece gives the same values."""
    monkeypatch.setattr(dynamic_programme, "TABLE_OVERHEAD", WAYS[way])
    rng = np.random.default_rng(3)
    n, steps, hours, levels = 6, 20, 1.0, 41
    power = rng.uniform(5, 50, n)
    given = {
        "max_power_charge": -power,
        "max_power_discharge": power,
        "capacity": power * np.array([1, 1, 2, 4, 8, 8]),
        "min_power_charge": np.array([0, 0, 1.0, 0, 0, 0]),
    }
    units = storage_units(n, given)
    price = rng.uniform(-50, 100, steps)
    availability = rng.uniform(0.5, 1.0, (n, steps))
    whole = storage_values(price, availability, hours, units, levels)
    pieces = sum(1 for _ in storage_value_steps(price, availability, hours, units, levels))
    monkeypatch.setattr(dynamic_programme, "PIECE_VALUES", 37)
    small = sum(1 for _ in storage_value_steps(price, availability, hours, units, levels))
    assert small > pieces + steps  # the steps were cut up
    for expected, got in zip(
        whole, storage_values(price, availability, hours, units, levels), strict=True
    ):
        assert np.array_equal(expected, got)


def test_a_large_group_is_cut_in_a_few_places_with_the_same_values(monkeypatch):
    """Trying every move: with more distinct reaches than reach_batches considers places to
    cut, the batches still hold every unit once, and the values are those of one wide
    solve."""
    monkeypatch.setattr(dynamic_programme, "MAX_CUTS", 4)
    monkeypatch.setattr(dynamic_programme, "TABLE_OVERHEAD", WAYS["tried"])
    rng = np.random.default_rng(5)
    n, steps, hours, levels = 120, 6, 1.0, 12
    power = rng.uniform(5, 50, n)
    given = {
        "max_power_charge": -power,
        "max_power_discharge": power,
        "capacity": power * rng.uniform(1, 8, n),
        "efficiency_charge": rng.uniform(0.8, 1.0, n),
        "efficiency_discharge": rng.uniform(0.8, 1.0, n),
    }
    units = storage_units(n, given)
    price = rng.uniform(-50, 100, steps)
    availability = np.ones((n, steps))
    terms = storage_terms(price, availability, hours, units)
    level_energy = units["capacity"] / (levels - 1)
    reach_in, reach_out = _reaches(terms, level_energy, hours, levels)
    assert len(np.unique(reach_in + reach_out)) > 4 + 1
    batches = reach_batches(reach_in, reach_out, levels)
    assert sorted(np.concatenate(batches).tolist()) == list(range(n))
    assert 1 < len(batches) <= 4 + 1
    _, values = storage_values(price, availability, hours, units, levels)
    together = np.zeros_like(values)
    complete(_backward(together, terms, level_energy, hours, reach_in.max(), reach_out.max()))
    assert np.array_equal(values, together)


def _reaches(terms, level_energy, hours, levels):
    tolerance = 1e-6 * hours
    reach_in = np.ceil(((terms["most_in"] + tolerance) / level_energy[:, None]).max(axis=1))
    reach_out = np.ceil(((terms["most_out"] + tolerance) / level_energy[:, None]).max(axis=1))
    return (
        np.minimum(reach_in, levels - 1).astype(int),
        np.minimum(reach_out, levels - 1).astype(int),
    )


def test_rounding_in_the_value_function_does_not_choose_between_equal_plans():
    """A half-full lossless storage at a constant price earns the same whenever it sells:
    staying idle wins each tie, so it sells in the last step. Values off by rounding (a few
    1e-15 of their size, as the programme's two ways differ) give the same plan, not a sale
    wherever the noise is highest."""
    rng = np.random.default_rng(2)
    steps, levels = 6, 11
    units = units_of(max_power_charge=-50, max_power_discharge=50, capacity=100)
    price = np.full(steps, 40.0)
    grid, values = storage_values(price, np.ones((1, steps)), 1.0, units, levels)
    noisy = values * (1 + rng.uniform(-4e-15, 4e-15, values.shape))
    committed = np.zeros((1, steps))
    plans = [
        optimized.storage_orders(
            np.array([0.5]), price, np.ones((1, steps)), 1.0, units, grid, value_function, committed
        )[0]
        for value_function in (values, noisy)
    ]
    assert plans[0].tolist() == [[0, 0, 0, 0, 0, 50]]
    assert plans[1].tolist() == plans[0].tolist()
