"""Speed-up of ``assume -p --workers N`` over one process when strategy work dominates.

    python benchmarks/scaling.py [--storages 64] [--days 30] [--workers 1 2 4 8] [--repeat 1]
        [--plants 16] [--operators 8] [--foresight 336h] [--soc-steps 401] [--workdir DIR]
        [--no-ceiling] [--split N]

Generates (benchmarks/generate_scenario.py) a day-ahead market with ``--storages`` storages
bidding storage_energy_optimized and ``--plants`` naive power plants, spread round-robin over
``--operators`` units operators, and runs it as a user would (each command a new process,
start-up included): in one process and with ``-p --workers N`` for every N. Prints the best wall
time of ``--repeat`` rounds per mode (the modes take turns in each round, so that machine noise
hits them alike), the speed-up of the best times against one process, the median over the
rounds of each round's speed-up (robust to the machine slowing down for a while), and whether
the tables market_meta, market_orders, market_dispatch and unit_dispatch are byte-identical to
the one-process run (else where they first differ). Exits 1 if any mode's results differ.
For the best round of each mode it also prints the time of the run's clock loop (from the
summary line of its log: the simulation's steps without the start-up, which no number of
workers shortens: interpreter, imports, loading, workers joining) and its speed-up against the
one-process run's loop, the CPU time of all the run's processes (the simulation, its workers
and its output writer) and how many cores they kept busy on average (CPU time / wall time):
where that is close to the machine's cores, the run is limited by them, and the speed-up by the
CPU time the distributed run adds to the strategy work.
Then it measures the machine's ceiling (benchmarks/ceiling.py): how much faster as many
processes as there are cores run the storages' programme at once than one process alone. A
run's speed-up can pass it a little: with ``-p`` the workers compute the next opening's
programme while the manager clears (assume.lookahead), work that one process does one after the
other.

And it measures, in every round, what the same work gains with nothing to distribute: the
scenario split by hand into ``--split`` scenarios (default: one per core), each holding the
operators that -p gives one of that many workers (and the whole demand, which every market
needs), run as that many one-process commands at once. Each part clears its own market, so
its results are not compared; its wall time, from the start of the first to the end of the
last, is the speed-up -p would have if joining, messages and one manager for all cost nothing,
on this machine at this moment: start-up included, the strategies' work, and the cores
competing for caches and memory as they do under -p.

Workers receive whole units operators, balanced by the estimated work of their strategies
(``World.operator_work``): an operator's storages cost about foresight x levels x log2 of their
reach, the range maxima's table (see assume/strategies/storage_values.py), so with the
scenario's random durations (2-8 h) operators of 8 storages each cost about the same. The
script prints the storages per worker.

Why a foresight of 336h and 401 levels of state of charge rather than the strategy's defaults
(24h, 101): the benchmark is meant to measure a run that strategy work dominates. The share of
the strategies' bidding in the CPU time of a one-process run (64 storages, 30 days, timed inside
the process) is 69 % with the defaults, 84 % with a week and 201 levels, 93 % with two weeks and
401 levels; the rest (start-up, clearing, dispatch, outputs) runs in the manager or in every
worker whatever their number. A storage that plans the day it bids against the two weeks ahead,
in steps of 0.25 % of its capacity, is a realistic setting. (Until the dynamic programme took
range maxima instead of trying every move, a week and 201 levels made it 90 %; the same setting
now runs 2.2x as fast in one process, which leaves -p less to share.)
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import shutil
import statistics
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from ceiling import ceiling  # noqa: E402
from common import (  # noqa: E402
    CLOCK_STEPS,
    first_difference,
    machine,
    markdown_table,
    timed_together,
    timed_with_log,
    workdir,
)
from generate_scenario import generate  # noqa: E402

from assume.distributed.settings import assign_operators  # noqa: E402
from assume.scenario.build import build_world  # noqa: E402
from assume.scenario.loader import load_scenario  # noqa: E402
from assume.timeutil import parse_duration  # noqa: E402
from assume.world import World  # noqa: E402


def children_cpu() -> float:
    """CPU seconds (user and system) of the ended child processes and of their descendants
    that were waited for (a run's workers and output writer are)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def clock_loop(log: str) -> float:
    """Seconds a run spent in its clock steps, from the summary line of its ``log``: the run
    without its start-up (interpreter, imports, loading, workers joining) and its end."""
    found = CLOCK_STEPS.search(log)
    if found is None:
        raise SystemExit(f"no summary line in the run's log:\n{log[-3000:]}")
    return float(found.group(2))


def best(seconds: list[float]) -> int:
    """The round with the shortest wall time."""
    return seconds.index(min(seconds))


def storages_per_worker(folder: Path, workers: int) -> list[int]:
    """How many storages each of ``workers`` worker processes runs, as -p assigns operators
    (by the estimated work of their strategies, see World.operator_work)."""
    storages: Counter[str] = Counter()
    with open(folder / "storage_units.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            storages[row["unit_operator"]] += 1
    return [
        sum(storages[operator] for operator in group) for group in operator_parts(folder, workers)
    ]


def split_scenario(folder: Path, parts: list[list[str]], into: Path) -> list[Path]:
    """Copies of scenario ``folder`` in ``into``, one per list of operators in ``parts``: the
    units of those operators and every demand."""
    folders = []
    for number, operators in enumerate(parts):
        part = into / f"part_{number}"
        shutil.copytree(folder, part, dirs_exist_ok=True)
        for table in part.glob("*_units.csv"):
            if table.name == "demand_units.csv":
                continue
            with open(table, newline="") as handle:
                rows = list(csv.DictReader(handle))
            fields = list(rows[0]) if rows else []
            with open(table, "w", newline="") as handle:
                writer = csv.DictWriter(handle, fields, lineterminator="\n")
                writer.writeheader()
                writer.writerows(row for row in rows if row["unit_operator"] in operators)
        folders.append(part)
    return folders


def operator_parts(folder: Path, workers: int) -> list[list[str]]:
    """The units operators of each of ``workers`` workers, as -p assigns them."""
    world = World()
    build_world(load_scenario(str(folder.parent), folder.name, "base"), world, progress=False)
    public = list(world.unit_operators)
    work = {operator: world.operator_work(operator) for operator in public}
    return [list(group) for group in assign_operators(public, workers, work)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--storages", type=int, default=64, help="storages (default 64)")
    parser.add_argument("--days", type=int, default=30, help="simulated days (default 30)")
    parser.add_argument(
        "--workers",
        type=int,
        nargs="+",
        default=[1, 2, 4, 8],
        help="worker counts for -p (default 1 2 4 8)",
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="rounds; the best time is kept (default 1)"
    )
    parser.add_argument("--plants", type=int, default=16, help="naive power plants (default 16)")
    parser.add_argument("--operators", type=int, default=8, help="units operators (default 8)")
    parser.add_argument(
        "--foresight", default="336h", help="optimized_foresight of the storages (default 336h)"
    )
    parser.add_argument(
        "--soc-steps", type=int, default=401, help="levels of state of charge (default 401)"
    )
    parser.add_argument("--workdir", type=Path, help="keep scenario and results here")
    parser.add_argument(
        "--no-ceiling",
        action="store_true",
        help="skip measuring the machine's ceiling (benchmarks/ceiling.py, about 20 s)",
    )
    parser.add_argument(
        "--split",
        type=int,
        default=os.cpu_count() or 1,
        metavar="N",
        help="also run the scenario split by hand into N one-process runs at once, one per "
        "worker's operators (default: the machine's cores; 0 or 1: not)",
    )
    args = parser.parse_args(argv)
    cores = os.cpu_count() or 1
    split = f"split by hand: {args.split} one-process runs at once"

    # mode -> (results folder name, extra arguments)
    modes = {"one process": ("one_process", [])}
    for workers in args.workers:
        modes[f"-p --workers {workers}"] = (
            f"workers_{workers}",
            ["-p", "--workers", str(workers), "--port", "0"],
        )
    with workdir(args.workdir) as folder:
        try:
            scenario = generate(
                args.plants,
                args.operators,
                args.days,
                folder / "inputs",
                name="scaling",
                storages=args.storages,
                market="dam",
                optimized_foresight=args.foresight,
                soc_steps=args.soc_steps,
            )
        except ValueError as error:
            parser.error(str(error))
        print(
            f"scenario: {args.storages} storages (storage_energy_optimized, foresight "
            f"{args.foresight}, {args.soc_steps} levels) and {args.plants} naive plants in "
            f"{args.operators} operators, day-ahead market, {args.days} days hourly"
        )
        spread = {w: storages_per_worker(scenario, w) for w in args.workers}
        print(
            "storages per worker: "
            + "; ".join(f"{w}: {'+'.join(map(str, counts))}" for w, counts in spread.items())
        )
        # a kept --workdir may hold an earlier invocation's tables: none may stand in for a run
        shutil.rmtree(folder / "results", ignore_errors=True)
        shutil.rmtree(folder / "parts", ignore_errors=True)
        parts = operator_parts(scenario, args.split) if args.split > 1 else []
        if any(not part for part in parts):
            print(f"no split by hand: fewer operators than the {args.split} parts")
            parts = []
        if parts:
            parts = split_scenario(scenario, parts, folder / "parts")
        timed_modes = [*modes, split] if parts else list(modes)
        walls: dict[str, list[float]] = {mode: [] for mode in timed_modes}
        cpus: dict[str, list[float]] = {mode: [] for mode in timed_modes}
        loops: dict[str, list[float]] = {mode: [] for mode in timed_modes}
        verdict: dict[str, str] = {}
        reference = folder / "results" / "one_process_1" / "scaling_base"
        for round_ in range(1, args.repeat + 1):
            for mode, (slug, extra) in modes.items():
                out = folder / "results" / f"{slug}_{round_}"
                run = ["-s", "scaling", "-i", str(folder / "inputs"), "-csv", str(out), *extra]
                began = children_cpu()
                wall, log = timed_with_log(run)
                walls[mode].append(wall)
                cpus[mode].append(children_cpu() - began)
                loops[mode].append(clock_loop(log))
                if out / "scaling_base" == reference:
                    continue
                difference = first_difference(reference, out / "scaling_base")
                if difference and mode not in verdict:
                    verdict[mode] = difference
            if parts:
                runs = [
                    ["-s", part.name, "-i", str(part.parent)]
                    + ["-csv", str(folder / "results" / f"split_{round_}")]
                    for part in parts
                ]
                began = children_cpu()
                wall, logs = timed_together(runs)
                walls[split].append(wall)
                cpus[split].append(children_cpu() - began)
                loops[split].append(max(map(clock_loop, logs)))
        single = walls["one process"]
        single_loop = loops["one process"][best(single)]
        rows = [
            [
                mode,
                f"{min(seconds):.2f} s",
                f"{min(single) / min(seconds):.2f}x",
                # each round's modes ran one after the other: their ratio cancels the slow
                # drifts of a shared machine that the best times of different rounds do not
                f"{statistics.median(a / b for a, b in zip(single, seconds, strict=True)):.2f}x",
                f"{loops[mode][best(seconds)]:.2f} s",
                f"{single_loop / loops[mode][best(seconds)]:.2f}x",
                f"{cpus[mode][best(seconds)]:.2f} s",
                f"{cpus[mode][best(seconds)] / min(seconds):.2f}",
                "reference"
                if mode == "one process"
                else "own markets, not compared"
                if mode == split
                else verdict.get(mode, "identical"),
            ]
            for mode, seconds in walls.items()
        ]
        header = [
            "mode",
            "wall",
            "speed-up",
            "speed-up, median of rounds",
            "clock loop",
            "its speed-up",
            "CPU, all processes",
            "cores busy",
            "results",
        ]
        print(markdown_table(header, rows))
        if not args.no_ceiling:
            foresight = round(parse_duration(args.foresight, "--foresight") / 3600)
            ratio, _ = ceiling(cores, foresight=foresight, levels=args.soc_steps)
            plain, _ = ceiling(cores, kind="python")
            print(
                f"ceiling: {cores} processes at once run the storages' dynamic programme "
                f"(foresight {foresight} h, {args.soc_steps} levels) {ratio:.2f}x as fast as one "
                "on this machine (benchmarks/ceiling.py): what the cores give for the strategy "
                "work alone (a run can gain a little more, as its workers compute the next "
                f"opening while the manager clears); a plain Python loop {plain:.2f}x"
            )
        print(machine())
    return 1 if verdict else 0


if __name__ == "__main__":
    raise SystemExit(main())
