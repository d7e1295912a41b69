"""Single-process speed: our simulator against ASSUME 0.6.0 on the same generated input folder.

    python benchmarks/single_process.py [--plants 200] [--operators 20] [--days 30]
        [--assume-python /path/to/venv/bin/python] [--repeat 1]

Generates an ASSUME-format scenario (benchmarks/generate_scenario.py), runs it with this
project (load + simulation, CSV output to a temporary folder) and, if ``--assume-python``
names a Python that has assume-framework 0.6.0 installed (never a dependency of this
project), runs ASSUME on the same folder in the same benchmark run. Prints the seconds of
each, clearings per second, the ratio, and whether every product's price and volumes agree.

Each side runs in a new interpreter of its own and is timed there from creating its World to
the end of its run (loading the scenario, simulating, writing CSV files); importing the
packages is left out on both sides (ASSUME's imports take seconds, this project's about
0.15 s). This project writes its CSV files from a second process (on the other core of a
2-core machine), while ASSUME writes from the simulation's process; so the comparison is run
twice: as the two programs run on this machine, and with each pinned to one core (its
processes included; Linux only), which takes the second core away from this project. The
best of ``--repeat`` runs counts on each side.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import machine  # noqa: E402
from generate_scenario import generate  # noqa: E402

PIN = """
import os, sys
if sys.argv[5] != "-":  # pinned: this process and those it starts run on one core
    os.sched_setaffinity(0, {int(sys.argv[5])})
"""

OURS_RUNNER = (
    PIN
    + """
import time
from assume.scenario.build import build_world
from assume.scenario.loader import load_scenario
from assume.world import World
inputs, scenario, case, out = sys.argv[1:5]
began = time.perf_counter()
world = World(export_csv_path=out, log_level="WARNING")
build_world(load_scenario(inputs, scenario, case), world, progress=False)
loaded = time.perf_counter()
world.run()
print(loaded - began, time.perf_counter() - loaded)
"""
)

ASSUME_RUNNER = (
    PIN
    + """
import importlib.util, time
import assume
if importlib.util.find_spec("assume.scenario.loader_csv") is None:
    sys.exit(
        f"{sys.executable} imports assume from {os.path.dirname(assume.__file__)}, which is "
        "not ASSUME 0.6.0: give --assume-python an interpreter whose environment has "
        "assume-framework==0.6.0 installed"
    )
from assume import World
from assume.scenario.loader_csv import load_scenario_folder
inputs, scenario, case, out = sys.argv[1:5]
began = time.perf_counter()
world = World(export_csv_path=out, database_uri="")
load_scenario_folder(world, inputs_path=inputs, scenario=scenario, study_case=case)
world.run()
print(time.perf_counter() - began)
"""
)


def _run(python: str, runner: str, inputs: Path, scenario: str, out: Path, cpu, cwd=None, env=None):
    result = subprocess.run(
        [python, "-c", runner, str(inputs), scenario, "base", str(out), str(cpu)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
    )
    if result.returncode:
        raise SystemExit(f"{python} failed:\n{result.stderr[-3000:]}")
    return [float(x) for x in result.stdout.strip().splitlines()[-1].split()]


def run_ours(inputs: Path, scenario: str, out: Path, cpu="-") -> tuple[float, float]:
    """(load seconds, run seconds) of this project on the scenario, in a new interpreter."""
    load, run = _run(sys.executable, OURS_RUNNER, inputs, scenario, out, cpu)
    return load, run


def run_assume(python: str, inputs: Path, scenario: str, out: Path, cpu="-") -> float:
    """Seconds of ASSUME 0.6.0 (load + run) in its own interpreter."""
    # run from the input folder and without PYTHONPATH (which measuring another version of
    # this project sets), so that this project's package does not shadow ASSUME's
    env = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}
    (seconds,) = _run(python, ASSUME_RUNNER, inputs, scenario, out, cpu, str(inputs), env)
    return seconds


def agreement(ours: Path, theirs: Path) -> str:
    """How many products differ in price or volume (ASSUME rounds its CSV to 5 digits)."""

    def load(path):
        with open(path, newline="") as handle:
            return {(r["market_id"], r["product_start"]): r for r in csv.DictReader(handle)}

    a, b = load(ours), load(theirs)
    if not a or not b:
        raise SystemExit(f"no products to compare: {len(a)} of ours, {len(b)} of ASSUME's")
    differing = 0
    for key in set(a) | set(b):
        if key not in a or key not in b:
            differing += 1
            continue
        for column in ("price", "supply_volume", "demand_volume"):
            x, y = float(a[key][column]), float(b[key][column])
            if abs(x - y) > 1e-4 * max(1.0, abs(y)):
                differing += 1
                break
    return f"{differing} of {len(b)} products differ"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plants", type=int, default=200)
    parser.add_argument("--operators", type=int, default=20)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=1, help="runs of each; the best is kept")
    parser.add_argument("--assume-python", help="a Python with assume-framework==0.6.0")
    args = parser.parse_args()
    pinnable = hasattr(os, "sched_setaffinity")
    # the pinned runs use a core this process may run on
    cpus = ["-", min(os.sched_getaffinity(0))] if pinnable else ["-"]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        folder = generate(args.plants, args.operators, args.days, tmp / "inputs")
        scenario = folder.name
        print(
            f"scenario: {args.plants} plants, {args.operators} operators, {args.days} days hourly"
        )
        print(f"{'':34}{'load + run s':>13}{'clearings/s':>13}{'speed-up':>10}")
        for cpu in cpus:
            where = "free to use the machine" if cpu == "-" else "pinned to one core"
            out = tmp / f"ours_{cpu}"
            runs = [run_ours(tmp / "inputs", scenario, out, cpu) for _ in range(args.repeat)]
            load, run = min(runs, key=sum)
            ours = load + run
            meta = out / f"{scenario}_base" / "market_meta.csv"
            clearings = sum(1 for _ in open(meta)) - 1
            print(f"{where}:")
            print(f"{'  assume (this project)':34}{ours:13.2f}{clearings / ours:13.0f}")
            print(f"{'    of which simulation':34}{run:13.2f}")
            if not args.assume_python:
                continue
            theirs_out = tmp / f"theirs_{cpu}"
            theirs = min(
                run_assume(args.assume_python, tmp / "inputs", scenario, theirs_out, cpu)
                for _ in range(args.repeat)
            )
            print(
                f"{'  ASSUME 0.6.0':34}{theirs:13.2f}{clearings / theirs:13.0f}"
                f"{theirs / ours:9.1f}x"
            )
            print(
                "  results: " + agreement(meta, theirs_out / f"{scenario}_base" / "market_meta.csv")
            )
        print(machine())


if __name__ == "__main__":
    main()
