"""How the cost of a run grows with the number of units and with the horizon.

    python benchmarks/growth.py [--units 100 1000 5000] [--units-months 1]
        [--months 1 3 6 12] [--months-units 1000] [--profile] [--top 25] [--workdir DIR]

Generates (benchmarks/generate_scenario.py) naive power plants in units/10 units operators on an
hourly market from 2019-01-01 and runs each in one process as a new process (start-up included),
with CSV results. Prints two tables: wall time against ``--units`` at a horizon of
``--units-months`` months, and against ``--months`` at ``--months-units`` units, each with the
time per simulated hour, per unit-hour, and how much time and size grew against the first row
(equal factors: linear growth). A case in both tables runs once.

``--profile`` runs the case with the most unit-hours once more under cProfile and prints the
``--top`` functions by cumulative and by own time, with their share of the profiled run (the
sum of all own times). The profile covers the simulation process's main thread: the forked
output writer runs without the profiler (it is turned off in forked processes, so that it
keeps up as it does unprofiled), and the thread that hands it the tables is not profiled.
cProfile's overhead makes Python-heavy functions look dearer. The event loop's functions
count a coroutine's time again at each resumption, so that their cumulative time exceeds the
run: the cumulative table leaves out every function above 100 %.
"""

from __future__ import annotations

import argparse
import pstats
import shutil
import sys
import sysconfig
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import (  # noqa: E402
    ROOT,
    assume_command,
    machine,
    markdown_table,
    months_to_days,
    run_timed,
    timed,
    workdir,
)
from generate_scenario import generate  # noqa: E402

PROFILED = """
import cProfile, os, runpy, sys
profile = sys.argv[1]
sys.argv = ["assume", *sys.argv[2:]]
profiler = cProfile.Profile()
os.register_at_fork(after_in_child=profiler.disable)  # not the forked output writer
profiler.enable()
try:
    runpy.run_module("assume", run_name="__main__", alter_sys=True)
except SystemExit as end:
    if end.code:
        raise
finally:
    profiler.disable()
    profiler.dump_stats(profile)
"""
"""``assume``'s command line under cProfile, for the simulation process only: the profile file,
then the command's arguments."""


def operators_for(units: int) -> int:
    """One units operator per ten units, at least one."""
    return max(1, units // 10)


def scenario_args(folder: Path, units: int, months: int) -> list[str]:
    """Generate the case (units, months) under ``folder`` once; its ``assume`` arguments."""
    name = f"growth_{units}u_{months}m"
    if not (folder / "inputs" / name).exists():
        generate(units, operators_for(units), months_to_days(months), folder / "inputs", name=name)
    return ["-s", name, "-i", str(folder / "inputs"), "-csv", str(folder / "results" / name)]


def growth_table(cases: list[tuple[int, int]], seconds: dict[tuple[int, int], float]) -> str:
    """Markdown table of wall time and cost per simulated hour and unit-hour of ``cases``."""
    first_units, first_months = cases[0]
    first_size = first_units * months_to_days(first_months)
    rows = []
    for units, months in cases:
        hours = months_to_days(months) * 24
        wall = seconds[units, months]
        rows.append(
            [
                units,
                operators_for(units),
                months,
                f"{wall:.2f} s",
                f"{1e3 * wall / hours:.2f} ms",
                f"{1e6 * wall / (units * hours):.2f} µs",
                f"{wall / seconds[cases[0]]:.1f}x",
                f"{units * months_to_days(months) / first_size:.1f}x",
            ]
        )
    header = ["units", "operators", "months", "wall", "per hour", "per unit-hour", "time", "size"]
    return markdown_table(header, rows)


def short_name(filename: str) -> str:
    """A profiled function's file, relative to the project, site-packages or the stdlib."""
    path = Path(filename)
    if path.is_relative_to(ROOT):
        return str(path.relative_to(ROOT))
    _, marker, inside = filename.rpartition("site-packages/")
    if marker:
        return inside
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    return str(path.relative_to(stdlib)) if path.is_relative_to(stdlib) else filename


def profile_tables(profile: Path, top: int) -> str:
    """The ``top`` functions of a cProfile file by cumulative and by own time, as Markdown."""
    profiled = pstats.Stats(str(profile))
    total = profiled.total_tt
    entries = [
        (cumulative, own, calls, f"{short_name(filename)}:{line}({function})")
        for (filename, line, function), (_, calls, own, cumulative, _) in profiled.stats.items()
    ]
    # cumulative times above the whole run are coroutine time counted at each resumption
    possible = [entry for entry in entries if entry[0] <= total]
    sections = []
    for title, chosen, key in (
        ("cumulative", possible, lambda entry: entry[0]),
        ("own time", entries, lambda entry: entry[1]),
    ):
        rows = [
            [f"{cumulative:.2f}", f"{own:.2f}", calls, f"{100 * cumulative / total:.0f} %", where]
            for cumulative, own, calls, where in sorted(chosen, key=key, reverse=True)[:top]
        ]
        sections.append(
            f"top {top} by {title}\n"
            + markdown_table(["cumulative s", "own s", "calls", "of run", "function"], rows)
        )
    return "\n\n".join(sections)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--units",
        type=int,
        nargs="+",
        default=[100, 1000, 5000],
        help="power plants per case (default 100 1000 5000)",
    )
    parser.add_argument(
        "--units-months", type=int, default=1, help="horizon of the units table (default 1)"
    )
    parser.add_argument(
        "--months",
        type=int,
        nargs="+",
        default=[1, 3, 6, 12],
        help="horizons in months (default 1 3 6 12)",
    )
    parser.add_argument(
        "--months-units", type=int, default=1000, help="units of the horizon table (default 1000)"
    )
    parser.add_argument(
        "--profile", action="store_true", help="profile the case with the most unit-hours"
    )
    parser.add_argument(
        "--top", type=int, default=25, help="functions per profile table (default 25)"
    )
    parser.add_argument("--workdir", type=Path, help="keep scenarios (and the profile) here")
    args = parser.parse_args(argv)

    by_units = [(units, args.units_months) for units in args.units]
    by_months = [(args.months_units, months) for months in args.months]
    seconds: dict[tuple[int, int], float] = {}
    with workdir(args.workdir) as folder:
        for units, months in by_units + by_months:
            if (units, months) in seconds:
                continue
            run = scenario_args(folder, units, months)
            seconds[units, months] = timed(run)
            shutil.rmtree(folder / "results")
            print(
                f"  {units} units, {months} months: {seconds[units, months]:.2f} s",
                file=sys.stderr,
                flush=True,
            )
        print("naive power plants, one operator per 10 units, hourly market, one process")
        print(f"\nagainst units, horizon {args.units_months} month(s)")
        print(growth_table(by_units, seconds))
        print(f"\nagainst horizon, {args.months_units} units")
        print(growth_table(by_months, seconds))
        if args.profile:
            units, months = max(seconds, key=lambda case: case[0] * months_to_days(case[1]))
            profile = folder / f"growth_{units}u_{months}m.prof"
            command = assume_command(scenario_args(folder, units, months))
            run_timed([sys.executable, "-c", PROFILED, str(profile), *command[3:]])
            shutil.rmtree(folder / "results")
            print(f"\nprofile of {units} units, {months} month(s) (simulation process)\n")
            print(profile_tables(profile, args.top))
        print()
        print(machine())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
