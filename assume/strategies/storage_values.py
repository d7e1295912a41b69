"""The value function of storages: the dynamic programme of storage_energy_optimized.

Backward induction over a horizon of H steps and K levels of state of charge, in one of two
ways, whichever costs less for the units at hand (the same way in every process, so results do
not depend on how a run is distributed):

- Trying every move (:func:`_try_every_move`): per step and unit, each move within its reach
  from each level, reward added, maximum taken: reach x K values. Cheap for a few units of
  small reach (few numpy calls a step); units of similar reach are solved in batches
  (:func:`reach_batches`), so that storages that fill in eight hours do not pay for the
  moves of one that fills in two.
- Range maxima (:func:`_range_maxima`): a storage at level k that charges w levels stores
  w x L MWh (L: the energy of one level) and pays w x L x charge_value (see storage_terms);
  discharging w levels earns -w x L x discharge_value. The reward is linear in the move on
  each side, so with j the level reached and s the reward of one level (L x charge_value or
  L x discharge_value),

      V_t(k) = max(V_t+1(k), max over feasible j of (V_t+1(j) + s j) - s k)

  where the feasible j of a side are a range of levels (:func:`move_ranges`). Range maxima
  for every unit and level at once come from a table of the maxima of V_t+1(j) + s j over
  2^p consecutive levels (a sparse table): a range is covered by two blocks of the largest
  power of two that fits it. That is log2(K) vector operations of 2K values per unit and
  step, whatever the reach, and a dozen more numpy calls per step than trying every move.

Both decide which moves are feasible by the same float comparisons as storage_reward, so
that the programme and the orders built from it (storage_orders) agree on every move; they
give the same values but for rounding (the reward is added before the maximum in one, after
it in the other).
"""

from __future__ import annotations

import itertools
from collections.abc import Generator

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from assume.lookahead import complete

# MW: smaller powers count as idle, smaller order volumes are not placed
POWER_TOLERANCE = 1e-6
# values computed or copied in one piece of a value function job (assume.lookahead): under a
# millisecond of work here, so that a worker computing ahead answers its messages promptly
PIECE_VALUES = 200_000
# the cost of the two ways, in candidate values of trying every move (about a nanosecond
# each on the machines of benchmarks/RESULTS.md): one more batch of units, per step (numpy
# calls), a value of the range maxima's table and its calls per step
BATCH_OVERHEAD = 4000
TABLE_VALUE = 0.4
TABLE_OVERHEAD = 22_000
# places reach_batches considers for cutting a group into batches
MAX_CUTS = 48

STORAGE_PARAMETERS = (
    "max_power_charge",
    "max_power_discharge",
    "min_power_charge",
    "min_power_discharge",
    "efficiency_charge",
    "efficiency_discharge",
    "min_soc",
    "max_soc",
    "capacity",
    "additional_cost_charge",
    "additional_cost_discharge",
)


def storage_terms(price: np.ndarray, availability: np.ndarray, hours: float, units: dict) -> dict:
    """Per unit and step (n, H): what a MWh more or less in store earns now (EUR/MWh, net of
    efficiencies and additional costs) and how much energy (MWh) may go in or out."""
    efficiency_charge = units["efficiency_charge"][:, None]
    efficiency_discharge = units["efficiency_discharge"][:, None]
    return {
        # storing e MWh buys e / efficiency_charge MWh; releasing e MWh sells e x efficiency
        "charge_value": -(price + units["additional_cost_charge"][:, None]) / efficiency_charge,
        "discharge_value": -(price - units["additional_cost_discharge"][:, None])
        * efficiency_discharge,
        "most_in": -units["max_power_charge"][:, None] * availability * efficiency_charge * hours,
        "most_out": units["max_power_discharge"][:, None]
        * availability
        / efficiency_discharge
        * hours,
        "least_in": np.broadcast_to(
            -units["min_power_charge"][:, None] * efficiency_charge * hours, availability.shape
        ),
        "least_out": np.broadcast_to(
            units["min_power_discharge"][:, None] / efficiency_discharge * hours,
            availability.shape,
        ),
    }


def storage_reward(energy_in, terms: dict, hours: float):
    """Revenue minus additional cost of storing ``energy_in`` MWh (< 0: releasing) in one
    step; -inf beyond the power limits or below a minimum power. ``terms`` broadcast."""
    tolerance = POWER_TOLERANCE * hours
    charging = energy_in > 0
    reward = energy_in * np.where(charging, terms["charge_value"], terms["discharge_value"])
    feasible = (energy_in <= terms["most_in"] + tolerance) & (
        energy_in >= -terms["most_out"] - tolerance
    )
    if terms["least_in"].any() or terms["least_out"].any():  # most storages have no minimum
        feasible &= (
            (np.abs(energy_in) <= tolerance)
            | (energy_in >= terms["least_in"] - tolerance)
            | (energy_in <= -terms["least_out"] + tolerance)
        )
    return np.where(feasible, reward, -np.inf)


def _most_levels(level_energy: np.ndarray, bound: np.ndarray, top: int) -> np.ndarray:
    """Per unit and step: the most levels w in [0, top] whose energy w x level_energy (the
    float product, as storage_reward computes it) is at most ``bound`` (n, H); -1 where not
    even w = 0 is. Units whose levels hold no energy (level_energy <= 0) move no level."""
    energy = level_energy[:, None]
    positive = energy > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        guess = np.floor(bound / np.where(positive, energy, 1.0))
    guess = np.clip(np.nan_to_num(guess, nan=-1.0), -1, top)
    # the division may round either way: one level up or down makes it exact
    guess = np.where((guess < top) & ((guess + 1) * energy <= bound), guess + 1, guess)
    guess = np.where((guess >= 0) & ~((guess * energy) <= bound), guess - 1, guess)
    return np.where(positive, guess, np.where(bound >= 0, 0, -1)).astype(np.int64)


def move_ranges(terms: dict, level_energy: np.ndarray, tolerance: float, top: int) -> list:
    """The feasible moves of each unit in each step, as ranges of levels: a list of (side,
    first, last), side "in" (charging) or "out" (discharging), first and last (n, H) the
    fewest and most levels of a range (first > last: none). Staying idle is always feasible.

    A move of w levels stores (or releases) e = w x L MWh; it is feasible where storage_reward
    finds it so: e at most the side's most energy (+ tolerance) and, if any unit has a
    minimum power, either small enough to count as idle (|e| <= tolerance, or within a
    minimum of the other side given with the wrong sign) or at least the side's least
    energy (- tolerance). Those are at most two ranges a side: the small moves [1, tiny] and
    [least, most]; the first exists only for levels smaller than the tolerance or with a
    minimum of the wrong sign."""
    least = terms["least_in"].any() or terms["least_out"].any()
    ranges = []
    for side, other in (("in", "out"), ("out", "in")):
        most = _most_levels(level_energy, terms[f"most_{side}"] + tolerance, top)
        if not least:
            ranges.append((side, np.ones_like(most), most))
            continue
        small = np.maximum(tolerance, tolerance - terms[f"least_{other}"])
        tiny = np.minimum(_most_levels(level_energy, small, top), most)
        # the fewest levels with e >= least - tolerance: one more than the most below it
        below = _most_levels(
            level_energy, np.nextafter(terms[f"least_{side}"] - tolerance, -np.inf), top
        )
        ranges.append((side, np.maximum(below + 1, tiny + 1), most))
        if (tiny >= 1).any():
            ranges.append((side, np.ones_like(tiny), tiny))
    return ranges


def tried_cost(units: int, moves: int, soc_steps: int) -> float:
    """What a step of trying every move costs a batch of ``units`` that can make ``moves``
    moves (idle included), in candidate values (see BATCH_OVERHEAD)."""
    return moves * units * soc_steps + BATCH_OVERHEAD


def table_cost(units: int, depth: float, soc_steps: int) -> float:
    """What a step of the range maxima costs ``units`` whose table has ``depth`` levels, in
    candidate values: two sides' rows of 2K columns, and the calls (see TABLE_VALUE)."""
    return TABLE_VALUE * units * 4 * soc_steps * depth + TABLE_OVERHEAD


def storage_values(
    price: np.ndarray, availability: np.ndarray, hours: float, units: dict, soc_steps: int
) -> tuple[np.ndarray, np.ndarray]:
    """The value function of storages over a horizon of H steps, by backward induction: see
    :func:`storage_value_steps`, of which this is the whole computation at once."""
    return complete(storage_value_steps(price, availability, hours, units, soc_steps))


def storage_value_steps(
    price: np.ndarray, availability: np.ndarray, hours: float, units: dict, soc_steps: int
) -> Generator[None, None, tuple[np.ndarray, np.ndarray]]:
    """The value function of storages over a horizon of H steps (see the module's text), as a
    generator that yields after each step of the horizon and between other pieces of about
    PIECE_VALUES values (a job for assume.lookahead).

    ``price`` (H,) is the price forecast, ``availability`` (n, H) scales the power limits,
    ``units`` maps STORAGE_PARAMETERS to (n,) arrays. Returns the ``soc_steps`` levels of
    state of charge from min_soc to max_soc (n, K) and the best revenue (EUR) from each
    level at the start of each step (H + 1, n, K); stored energy is worth nothing at the end.
    """
    n, length = availability.shape
    span = units["max_soc"] - units["min_soc"]
    levels = units["min_soc"][:, None] + span[:, None] * (np.arange(soc_steps) / (soc_steps - 1))
    level_energy = span * units["capacity"] / (soc_steps - 1)
    terms = storage_terms(price, availability, hours, units)
    tolerance = POWER_TOLERANCE * hours
    # the widest move of each unit, in levels, that full power allows in one step (with the
    # tolerance storage_reward grants, so that every feasible move is in reach)
    with np.errstate(divide="ignore", invalid="ignore"):
        positive = level_energy[:, None] > 0
        reach_in = np.where(positive, (terms["most_in"] + tolerance) / level_energy[:, None], 0)
        reach_out = np.where(positive, (terms["most_out"] + tolerance) / level_energy[:, None], 0)
    reach_in = np.minimum(np.ceil(reach_in.max(axis=1, initial=0.0)), soc_steps - 1).astype(int)
    reach_out = np.minimum(np.ceil(reach_out.max(axis=1, initial=0.0)), soc_steps - 1).astype(int)
    batches = reach_batches(reach_in, reach_out, soc_steps)
    yield
    values = np.zeros((length + 1, n, soc_steps))
    tried = sum(
        tried_cost(len(rows), reach_in[rows].max() + reach_out[rows].max() + 1, soc_steps)
        for rows in batches
    )
    depth = int(np.log2(max(1, reach_in.max(), reach_out.max()))) + 1
    if tried <= table_cost(n, depth, soc_steps):
        yield from _try_every_move(values, batches, terms, level_energy, hours, reach_in, reach_out)
    else:
        yield from _range_maxima(values, terms, level_energy, tolerance)
    return levels, values


def _try_every_move(values, batches, terms, level_energy, hours, reach_in, reach_out):
    """Fill ``values`` (H + 1, n, K) by trying every move in reach, batch by batch."""
    n = values.shape[1]
    for rows in batches:
        if len(rows) == n:
            yield from _backward(
                values, terms, level_energy, hours, reach_in.max(), reach_out.max()
            )
            continue
        part = np.zeros((values.shape[0], len(rows), values.shape[2]))
        yield from _backward(
            part,
            {key: term[rows] for key, term in terms.items()},
            level_energy[rows],
            hours,
            reach_in[rows].max(),
            reach_out[rows].max(),
        )
        # in pieces: for a large group the copy alone takes milliseconds, most of them
        # the first touch of values' memory, whose every step the scattered rows reach
        chunk = max(1, PIECE_VALUES // values[0].size)
        for low in range(0, values.shape[0], chunk):
            values[low : low + chunk, rows] = part[low : low + chunk]
            yield


def _range_maxima(values, terms: dict, level_energy, tolerance: float):
    """Fill ``values`` (H + 1, n, K) from range maxima (see the module's text); yields after
    pieces of about PIECE_VALUES table values."""
    steps, n, size = values.shape
    length = steps - 1
    ranges = move_ranges(terms, level_energy, tolerance, size - 1)
    sides = len(ranges)
    # each unit has a row of 2K table columns per range, V_t+1(j) + s j over the levels j at
    # columns j (charging: j = k + w) or K + j (discharging: j = k - w), -inf in the other
    # half; the range of a unit at level k is then columns [k + a, k + b] (a, b by unit and
    # step), an empty range a column of the -inf half
    width = 2 * size
    starts, stops = np.empty((sides, n, length), np.int64), np.empty((sides, n, length), np.int64)
    for r, (side, first, last) in enumerate(ranges):
        empty = first > last
        if side == "in":
            starts[r] = np.where(empty, size, first)
            stops[r] = np.where(empty, size, last)
        else:
            starts[r] = np.where(empty, 0, size - last)
            stops[r] = np.where(empty, 0, size - first)
    count = stops - starts + 1
    block = np.floor(np.log2(count)).astype(np.int64)  # the largest 2^p <= count, exactly
    block = np.where(np.left_shift(1, block + 1) <= count, block + 1, block)
    block = np.where(np.left_shift(1, block) > count, block - 1, block)
    depth = int(block.max()) + 1
    # the table holds a piece of units at a time (the pieces take turns in it): its memory
    # stays at PIECE_VALUES values whatever the number of units
    piece = max(1, min(n, PIECE_VALUES // (depth * sides * width)))
    # flat table positions of the two blocks of each range, by step: (H, n, S, 1)
    row = ((np.arange(n) % piece)[None, :, None] * sides + np.arange(sides)[:, None, None]) * width
    low = ((block * piece * sides) * width + row + starts).transpose(2, 1, 0)[..., None]
    high = ((block * piece * sides) * width + row + stops + 1 - (1 << block)).transpose(2, 1, 0)
    high = high[..., None]
    # steps whose ranges differ from the next step's (the positions are computed anew)
    fresh = np.ones(length, bool)
    fresh[:-1] = (low[:-1] != low[1:]).any(axis=(1, 2, 3)) | (high[:-1] != high[1:]).any(
        axis=(1, 2, 3)
    )
    # reward of one level per row and step, the side's charge or discharge value x L
    value = {"in": terms["charge_value"], "out": terms["discharge_value"]}
    slope = np.stack([value[side] * level_energy[:, None] for side, _, _ in ranges], axis=1)
    slope = slope.transpose(2, 0, 1)[..., None]  # (H, n, S, 1)
    charging = [r for r, (side, _, _) in enumerate(ranges) if side == "in"]
    yield
    table = np.full((depth, piece, sides, width), -np.inf)
    flat = table.reshape(-1)
    grid = np.arange(size, dtype=float)
    ramp = np.empty((n, sides, size))  # s x k
    first_block, second_block = np.empty((n, sides, size), np.int64), np.empty_like(ramp, np.int64)
    best, other = np.empty((n, sides, size)), np.empty((n, sides, size))
    columns = np.arange(size)
    pieces = [
        _TablePiece(table, ramp, best, other, first_block, second_block, a, b, charging, size)
        for a in range(0, n, piece)
        for b in [min(n, a + piece)]
    ]
    for t in range(length - 1, -1, -1):
        later, now = values[t + 1], values[t]
        if fresh[t]:
            np.add(low[t], columns, out=first_block)
            np.add(high[t], columns, out=second_block)
        for piece in pieces:
            piece.step(flat, slope[t], grid, later, now)
            yield


class _TablePiece:
    """The views of the range maxima's arrays that one piece of units (rows a to b; the
    table's first b - a rows) works on in every step, made once."""

    def __init__(self, table, ramp, best, other, first, second, a, b, charging, size):
        self.units = slice(a, b)
        m = b - a
        self.ramp, self.best, self.other = ramp[a:b], best[a:b], other[a:b]
        self.first, self.second = first[a:b], second[a:b]
        # where each row's V_t+1(j) + s j goes: columns j (charging) or K + j (discharging)
        self.rows = [
            (self.ramp[:, r], table[0, :m, r, :size] if r in charging else table[0, :m, r, size:])
            for r in range(table.shape[2])
        ]
        # level p: maxima over 2^p columns, from two of level p - 1 (flat: a row's last
        # columns take in the next row's first ones, but no range reaches them)
        self.levels = []
        for p in range(1, table.shape[0]):
            shift = 1 << (p - 1)
            previous, current = table[p - 1, :m].reshape(-1), table[p, :m].reshape(-1)
            self.levels.append((previous[:-shift], previous[shift:], current[:-shift]))

    def step(self, flat, slope, grid, later, now) -> None:
        """One step of the backward induction for the piece's units: ``now`` from ``later``."""
        units = self.units
        later, now = later[units], now[units]
        ramp, best, other = self.ramp, self.best, self.other
        np.multiply(slope[units], grid, out=ramp)
        for rising, row in self.rows:
            np.add(rising, later, out=row)
        for left, right, out in self.levels:
            np.maximum(left, right, out=out)
        flat.take(self.first, out=best, mode="clip")
        flat.take(self.second, out=other, mode="clip")
        np.maximum(best, other, out=best)
        np.subtract(best, ramp, out=best)
        best.max(axis=1, out=now)
        np.maximum(now, later, out=now)


def reach_batches(reach_in: np.ndarray, reach_out: np.ndarray, soc_steps: int) -> list:
    """Rows of units to solve together: a batch costs (its widest moves) x (units) x levels
    per step, plus BATCH_OVERHEAD. Units sorted by reach, cut where that costs least: exactly,
    over the ways to cut the sorted list between units of different reach (at most
    MAX_CUTS places, evenly spread, so that a large group costs little to plan)."""
    n = len(reach_in)
    if not n:
        return []
    order = np.lexsort((np.arange(n), reach_in + reach_out))
    ins, outs = reach_in[order], reach_out[order]
    cuts = np.flatnonzero(np.diff(ins + outs)) + 1
    if len(cuts) > MAX_CUTS:
        picked = cuts[np.linspace(0, len(cuts) - 1, MAX_CUTS).round().astype(int)]
        # ascending, so each place once; not np.unique, whose first call imports numpy.ma
        # (10 ms in every worker)
        cuts = picked[np.diff(picked, prepend=-1) > 0]
    points = [0, *cuts.tolist(), n]
    # the widest moves within each stretch between two places to cut
    stretch_in = [int(ins[a:b].max()) for a, b in itertools.pairwise(points)]
    stretch_out = [int(outs[a:b].max()) for a, b in itertools.pairwise(points)]
    # best[j]: least cost of the units before points[j]; start[j]: where its last batch starts
    best, start = [0] + [None] * (len(points) - 1), [0] * len(points)
    for j in range(1, len(points)):
        widest_in = widest_out = 0
        for i in range(j - 1, -1, -1):  # the last batch: the stretches i .. j-1
            widest_in, widest_out = max(widest_in, stretch_in[i]), max(widest_out, stretch_out[i])
            size = points[j] - points[i]
            cost = best[i] + (widest_in + widest_out + 1) * size * soc_steps + BATCH_OVERHEAD
            if best[j] is None or cost < best[j]:
                best[j], start[j] = cost, i
    batches, j = [], len(points) - 1
    while j:
        batches.append(np.sort(order[points[start[j]] : points[j]]))
        j = start[j]
    return batches[::-1]


def _backward(values, terms: dict, level_energy, hours: float, reach_in: int, reach_out: int):
    """Fill ``values`` (H + 1, n, K) by backward induction for units that move at most
    ``reach_in`` levels up and ``reach_out`` down in a step; yields after each step."""
    soc_steps = values.shape[2]
    offsets = np.arange(-reach_out, reach_in + 1)
    width = len(offsets)
    n = values.shape[1]
    moves = offsets[None, :, None] * level_energy[None, None, :]
    # window[w, u, k] is the next value at level k + offsets[w] (-inf beyond the ends); moves
    # first, so that the max over them runs over contiguous (n, K) planes
    padded = np.full((n, soc_steps + width - 1), -np.inf)
    window = sliding_window_view(padded, width, axis=1).transpose(2, 0, 1)
    candidates = np.empty((width, n, soc_steps))
    # pieces of about PIECE_VALUES values: the rewards of a block of steps at a time, and a
    # step for a block of units at a time (steps and units are independent)
    block = max(1, PIECE_VALUES // (width * n))
    units = max(1, PIECE_VALUES // (width * soc_steps))
    low = values.shape[0] - 1
    for t in range(values.shape[0] - 2, -1, -1):
        if t < low:
            low = max(0, t + 1 - block)
            # reward[s, w, u, 0]: unit u moving by offsets[w] levels in step low + s
            reward = storage_reward(
                moves, {key: term.T[low : t + 1, None, :] for key, term in terms.items()}, hours
            )[..., None]
            yield
        padded[:, reach_out : reach_out + soc_steps] = values[t + 1]
        if units >= n:
            np.add(window, reward[t - low], out=candidates)
            candidates.max(axis=0, out=values[t])
            yield
            continue
        for a in range(0, n, units):
            b = a + units
            np.add(window[:, a:b], reward[t - low, :, a:b], out=candidates[:, a:b])
            candidates[:, a:b].max(axis=0, out=values[t, a:b])
            yield
