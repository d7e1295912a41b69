"""The optimising strategies: storages and power plants bid the schedule that a dynamic
programme over the price forecast finds best."""

import csv
import itertools

import numpy as np
import pytest

import assume.strategies.storage_values as dynamic_programme
from assume import MarketConfig, MarketProduct, World
from assume.errors import ConfigurationError
from assume.forecasts import Forecasts
from assume.lookahead import complete
from assume.strategies import get_strategy, optimized
from assume.strategies.optimized import StorageEnergyOptimizedStrategy, storage_reward
from assume.strategies.optimized_plant import PowerPlantEnergyOptimizedStrategy
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
from assume.timeutil import TimeIndex
from assume.units.power_plant import PowerPlantFleet
from assume.units.storage import StorageFleet

START = 1546300800  # 2019-01-01 00:00
MARKET = MarketConfig("EOM", [MarketProduct(3600, 1, 3600)])
# 50 MW both ways, 100 MWh (101 levels of 1 MWh), lossless, empty
STORAGE = {"max_power_charge": 50, "max_power_discharge": 50, "capacity": 100}


def storage_strategy(prices, params=(), availability=None, **strategy_params):
    index = TimeIndex(START, 3600, len(prices))
    fleet = StorageFleet(index)
    series = {} if availability is None else {"availability": np.array(availability)}
    fleet.add("storage", {**STORAGE, **dict(params)}, series)
    fleet.freeze()
    forecasts = Forecasts(index, [fleet], {"price_EOM": np.array(prices, dtype=float)})
    return StorageEnergyOptimizedStrategy(
        "optimized", fleet, np.arange(1), MARKET, forecasts, **strategy_params
    )


def storage_units(n: int, given: dict) -> dict:
    """STORAGE_PARAMETERS of ``n`` storages: ``given`` arrays, the fleet's defaults else."""
    return {
        key: given[key] if key in given else np.full(n, float(StorageFleet.parameters[key]))
        for key in STORAGE_PARAMETERS
    }


def products(*steps):
    starts = START + 3600 * np.array(steps, dtype="int64")
    return np.stack([starts, starts + 3600], axis=1)


def orders(strategy, *steps):
    """(step, price, volume) of each order for the products at ``steps`` (default: all)."""
    steps = steps or range(strategy.fleet.index.length)
    book = strategy.calculate_bids(products(*steps))
    return [
        (step, pytest.approx(price), pytest.approx(volume))
        for step, price, volume in zip(
            ((book.start - START) // 3600).tolist(),
            book.price.tolist(),
            book.volume.tolist(),
            strict=True,
        )
    ]


def test_lossless_storage_charges_cheap_and_discharges_expensive():
    # charging is worth up to what the energy fetches later (100); the last discharge is
    # worth any price above 0, as stored energy is worth nothing after the horizon
    assert orders(storage_strategy([10, 100])) == [(0, 100, -50), (1, 0, 50)]


def test_round_trip_losses_make_a_small_spread_unprofitable():
    lossy = {"efficiency_charge": 0.5, "efficiency_discharge": 0.5}
    # a quarter of the energy bought comes back: 10 -> 40 is needed to break even
    assert orders(storage_strategy([10, 30], lossy)) == []
    # 50 MW bought store 25 MWh, which sell as 12.5 MW; charging is worth up to 50 x 0.25
    assert orders(storage_strategy([10, 50], lossy)) == [(0, 12.5, -50), (1, 0, 12.5)]


def test_additional_costs_count_against_the_spread():
    assert orders(storage_strategy([10, 30], {"additional_cost_discharge": 25})) == []
    costly = {"additional_cost_charge": 5, "additional_cost_discharge": 10}
    assert orders(storage_strategy([10, 30], costly)) == [(0, 15, -50), (1, 10, 50)]


def test_power_limits_bind():
    big = {"capacity": 200, "max_power_charge": 30, "max_power_discharge": 30}
    assert orders(storage_strategy([10, 10, 100, 100], big)) == [
        (0, 100, -30),
        (1, 100, -30),
        (2, 0, 30),
        (3, 0, 30),
    ]


def test_availability_scales_the_power_limits():
    # only 25 MW can be discharged in the expensive hour, so only 25 MW are charged
    strategy = storage_strategy([10, 100], availability=[1.0, 0.5])
    assert orders(strategy) == [(0, 100, -25), (1, 0, 25)]


def test_state_of_charge_limits_bind():
    window = {"min_soc": 0.2, "max_soc": 0.6, "initial_soc": 0.2}
    big = {"max_power_charge": 100, "max_power_discharge": 100}
    assert orders(storage_strategy([10, 100], {**window, **big})) == [(0, 100, -40), (1, 0, 40)]


def test_minimum_power_rules_out_small_moves():
    # the 50 MWh that fit can only be discharged at 50 MW, below the minimum of 60 MW
    small = {"capacity": 50, "max_power_charge": 100, "max_power_discharge": 100}
    assert orders(storage_strategy([10, 100], {**small, "min_power_discharge": 60})) == []


def test_foresight_sets_the_horizon():
    # a quarter comes back: 10 -> 30 loses, 10 -> 100 pays; 100 lies two hours on
    lossy = {"efficiency_charge": 0.5, "efficiency_discharge": 0.5}
    assert orders(storage_strategy([10, 30, 100], lossy, optimized_foresight="2h"), 0) == []
    assert orders(storage_strategy([10, 30, 100], lossy, optimized_foresight="3h"), 0) == [
        (0, 25, -50)
    ]
    # the default (24h) reaches the end of this short index
    assert orders(storage_strategy([10, 30, 100], lossy), 0) == [(0, 25, -50)]


def test_starts_from_the_planned_state_of_charge_between_levels():
    # 33.3 MWh stored: 16.7 MWh more are enough for the 50 MW that can be sold
    assert orders(storage_strategy([10, 100], {"initial_soc": 0.333})) == [
        (0, 100, -16.7),
        (1, 0, 50),
    ]
    strategy = storage_strategy([0, 10, 100])
    strategy.fleet.energy[0, 0] = -30  # charged 30 MWh in step 0 (accepted, not executed)
    assert orders(strategy, 1, 2) == [(1, 100, -20), (2, 0, 50)]


def test_power_sold_elsewhere_is_part_of_the_plan():
    strategy = storage_strategy([10, 100])
    strategy.fleet.energy[0, 1] = 20  # 20 MW discharge sold on another market
    assert orders(strategy) == [(0, 100, -50), (1, 0, 30)]


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


def test_a_plan_that_waits_holds_the_energy_and_prices_it_by_its_later_use():
    # charge in the cheapest hour, wait through 40, sell at 100. Charging in hour 0 is worth
    # only up to 40: without it the storage would charge in hour 1 instead
    assert orders(storage_strategy([10, 40, 100])) == [(0, 40, -50), (2, 0, 50)]
    # a full storage sells in the 60-hour only what the 100-hour cannot take
    full = {"initial_soc": 1.0}
    assert orders(storage_strategy([60, 100, 0], full)) == [(0, 0, 50), (1, 0, 50)]


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


def test_orders_clear_when_the_forecast_is_right():
    """Offers to sell never ask more than the forecast, bids to buy never offer less."""
    rng = np.random.default_rng(7)
    lossy = {"efficiency_charge": 0.85, "efficiency_discharge": 0.9, "initial_soc": 0.37}
    for _ in range(10):
        prices = rng.uniform(0, 120, 36)
        book = storage_strategy(prices, lossy).calculate_bids(products(*range(36)))
        forecast = prices[(book.start - START) // 3600]
        assert len(book)
        assert (book.price[book.volume > 0] <= forecast[book.volume > 0] + 1e-9).all()
        assert (book.price[book.volume < 0] >= forecast[book.volume < 0] - 1e-9).all()


def test_a_group_bids_as_its_units_would_alone():
    """Units of different size share one band of moves; each still gets its own plan."""
    prices = np.random.default_rng(5).uniform(0, 100, 30)
    units = [
        {"max_power_charge": 10, "max_power_discharge": 40, "capacity": 60},
        {"capacity": 400, "efficiency_charge": 0.8, "initial_soc": 0.5},
        {"min_power_discharge": 20, "min_soc": 0.1, "additional_cost_charge": 3},
    ]
    index = TimeIndex(START, 3600, 30)
    fleet = StorageFleet(index)
    for number, params in enumerate(units):
        fleet.add(f"storage{number}", {**STORAGE, **params}, {})
    fleet.freeze()
    forecasts = Forecasts(index, [fleet], {"price_EOM": prices})
    group = StorageEnergyOptimizedStrategy("optimized", fleet, np.arange(3), MARKET, forecasts)
    book = group.calculate_bids(products(*range(30)))
    for number, params in enumerate(units):
        mine = book.unit_id == f"storage{number}"
        alone = storage_strategy(prices, params).calculate_bids(products(*range(30)))
        assert book.start[mine].tolist() == alone.start.tolist()
        assert book.volume[mine] == pytest.approx(alone.volume)
        assert book.price[mine] == pytest.approx(alone.price)


def test_same_inputs_give_identical_orders():
    prices = np.random.default_rng(11).uniform(0, 80, 48)
    first = storage_strategy(prices, {"initial_soc": 0.5}).calculate_bids(products(*range(48)))
    second = storage_strategy(prices, {"initial_soc": 0.5}).calculate_bids(products(*range(48)))
    assert first.price.tobytes() == second.price.tobytes()
    assert first.volume.tobytes() == second.volume.tobytes()


def test_products_outside_the_index_get_no_orders():
    assert orders(storage_strategy([10, 100], {"initial_soc": 0.5}), 1, 2) == [(1, 0, 50)]
    assert orders(storage_strategy([10, 100]), 2, 3) == []


@pytest.mark.parametrize(
    "params, message",
    [
        ({"soc_steps": 1}, "soc_steps must be an integer >= 2"),
        ({"soc_steps": 10.5}, "soc_steps must be an integer >= 2"),
        ({"optimized_foresight": "soon"}, "optimized_foresight: expected a duration"),
        ({"optimized_foresight": 0}, "optimized_foresight must be positive"),
    ],
)
def test_parameter_errors_name_the_parameter(params, message):
    with pytest.raises(ConfigurationError, match=message):
        storage_strategy([10, 100], **params)


def test_products_must_last_one_time_step():
    fleet = StorageFleet(TimeIndex(START, 3600, 4))
    fleet.add("storage", STORAGE, {})
    fleet.freeze()
    blocks = MarketConfig("EOM", [MarketProduct(7200, 1, 7200)])
    forecasts = Forecasts(fleet.index, [fleet], {"price_EOM": np.zeros(4)})
    with pytest.raises(ConfigurationError, match="products must last one time step"):
        StorageEnergyOptimizedStrategy("optimized", fleet, np.arange(1), blocks, forecasts)


def test_registered_names():
    assert get_strategy("storage_energy_optimized", "storage") is StorageEnergyOptimizedStrategy
    assert (
        get_strategy("powerplant_energy_optimized", "power_plant")
        is PowerPlantEnergyOptimizedStrategy
    )


# -- power plants -----------------------------------------------------------------------
# 100 MW, at least 50 MW when running, marginal cost 20; a restart costs start-cost x 100 MW
PLANT = {"max_power": 100, "min_power": 50, "additional_cost": 20}


def plant_strategy(prices, params=(), history=None):
    index = TimeIndex(START, 3600, len(prices))
    fleet = PowerPlantFleet(index)
    fleet.add("plant", {**PLANT, **dict(params)}, {})
    fleet.freeze()
    if history is not None:
        fleet.energy[0, : len(history)] = history
    forecasts = Forecasts(index, [fleet], {"price_EOM": np.array(prices, dtype=float)})
    return PowerPlantEnergyOptimizedStrategy("optimized", fleet, np.arange(1), MARKET, forecasts)


def test_plant_without_start_costs_runs_only_where_it_earns():
    # minimum power at the price where running pays, the rest at marginal cost
    assert orders(plant_strategy([50, 10, 50])) == [
        (0, 20, 50),
        (0, 20, 50),
        (2, 20, 50),
        (2, 20, 50),
    ]


def test_plant_stays_on_through_a_cheap_hour_when_a_restart_costs_more():
    # standing still in hour 1 saves 50 MW x 10 = 500 EUR but the restart costs 600 EUR: the
    # plant runs on and accepts down to 20 - 600 / 50 = 8 in that hour; in hour 0, running
    # on is worth the 100 EUR by which staying on beats the restart: 20 - 100 / 50 = 18
    hot = {"hot_start_cost": 6, "downtime_hot_start": 5}
    assert orders(plant_strategy([50, 10, 50], hot)) == [
        (0, 18, 50),
        (0, 20, 50),
        (1, 8, 50),
        (1, 20, 50),
        (2, 20, 50),
        (2, 20, 50),
    ]


def test_plant_restarts_when_that_is_cheaper_and_prices_in_the_start():
    # a 400 EUR restart beats losing 500 EUR; the start needs 20 + 400 / 50 = 28 EUR/MWh
    hot = {"hot_start_cost": 4, "downtime_hot_start": 5}
    assert orders(plant_strategy([50, 10, 50], hot)) == [
        (0, 20, 50),
        (0, 20, 50),
        (2, 28, 50),
        (2, 28, 50),
    ]


def test_minimum_up_time_makes_output_must_run():
    # stopped before step 1; once started in step 2 it has to run on in step 3
    params = {"min_operating_time": 3, "hot_start_cost": 4, "downtime_hot_start": 5}
    assert orders(plant_strategy([0, 10, 50, 50], params, history=[0]), 1, 2, 3) == [
        (2, 20, 50),
        (2, 20, 50),
        (3, -500, 50),
        (3, 20, 50),
    ]


def test_minimum_down_time_delays_a_restart():
    # stopped in step 0: with a minimum down time of 3 it may start again in step 3
    strategy = plant_strategy([0, 50, 10, 50], {"min_down_time": 3}, history=[0])
    assert orders(strategy, 1, 2, 3) == [(3, 20, 50), (3, 20, 50)]


# -- a whole run --------------------------------------------------------------------------
def test_world_run_storage_charges_cheap_and_discharges_expensive(tmp_path):
    """A day-ahead market (24 hourly products, a day ahead): a cheap plant covers the night,
    a dear one the day; the storage buys at night and sells by day within its limits."""
    world = World(export_csv_path=str(tmp_path))
    world.setup("2019-01-01 00:00", "2019-01-04 00:00", "optimized", time_step="1h")
    world.add_market_operator("market_operator")
    day_ahead = MarketConfig(
        "DAM", [MarketProduct(3600, 24, 86400)], 86400, 3600, maximum_bid_volume=1e5
    )
    world.add_market("market_operator", day_ahead)
    world.add_unit_operator("plants")
    for name, cost in (("cheap", 10.0), ("dear", 50.0)):
        world.add_unit(
            name,
            "power_plant",
            "plants",
            {"max_power": 500, "additional_cost": cost},
            bidding_strategies={"DAM": "powerplant_energy_naive"},
        )
    world.add_unit_operator("consumers")
    hour = np.arange(world.index.length) % 24
    night = hour < 8
    world.add_unit(
        "city",
        "demand",
        "consumers",
        {"price": 3000},
        series={"volume": np.where(night, -300.0, -700.0)},
        bidding_strategies={"DAM": "demand_energy_naive"},
    )
    world.add_unit_operator("storages")
    world.add_unit(
        "battery",
        "storage",
        "storages",
        {
            "max_power_charge": 100,
            "max_power_discharge": 100,
            "capacity": 400,
            "efficiency_charge": 0.9,
            "efficiency_discharge": 0.9,
            "min_soc": 0.1,
            "max_soc": 0.9,
            "initial_soc": 0.1,
        },
        bidding_strategies={"DAM": "storage_energy_optimized"},
    )
    world.run()

    with open(tmp_path / "optimized" / "unit_dispatch.csv", newline="") as handle:
        battery = [row for row in csv.DictReader(handle) if row["unit"] == "battery"]
    power = np.array([float(row["power"]) for row in battery])
    soc = np.array([float(row["soc"]) for row in battery])
    hours = np.array([int(row["time"][11:13]) for row in battery])
    assert len(battery) == world.index.length
    # day one has no day-ahead products; on days two and three it trades
    assert (power[:24] == 0).all()
    assert (power[24:][hours[24:] < 8] <= 0).all() and (power[24:][hours[24:] >= 8] >= 0).all()
    # each day it fills what it can sell by day: 320 MWh stored, 288 MWh sold
    for day in (1, 2):
        today = slice(24 * day, 24 * day + 24)
        assert -power[today][power[today] < 0].sum() == pytest.approx(320 / 0.9, rel=0.02)
        assert power[today][power[today] > 0].sum() == pytest.approx(320 * 0.9, rel=0.02)
    assert soc.min() >= 0.1 - 1e-9 and soc.max() <= 0.9 + 1e-9
    assert soc.max() == pytest.approx(0.9)


@pytest.mark.parametrize(
    "make",
    [
        lambda: storage_strategy([10, 40, 100, 20, 90, 30], optimized_foresight="3h"),
        lambda: plant_strategy([50, 10, 50, 0, 60, 30], {"min_down_time": 2}, history=[0]),
    ],
    ids=["storage", "power_plant"],
)
def test_the_next_opening_is_planned_ahead_and_bids_as_if_computed_then(make):
    planned = make()
    for step in range(4):
        assert orders(planned, step) == orders(make(), step)
        # hourly openings: the next one offers the next hour, and its value function is
        # planned over that hour's horizon
        window, job = planned._ahead
        assert window == planned.horizon(products(step + 1))[1::2]
        if step % 2:
            job.result()  # as a worker's idle time would have done
    # the market's last opening (its products end with the index): nothing more to plan
    assert orders(planned, 4) == orders(make(), 4)
    assert planned._ahead is None
    # an opening other than the planned one is computed afresh
    orders(planned, 2)
    assert orders(planned, 1) == orders(make(), 1)
