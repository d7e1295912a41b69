"""Single-process speed: our simulator against ASSUME 0.6.0 on the same generated input folder.

    python benchmarks/single_process.py [--plants 200] [--operators 20] [--days 30]
        [--assume-python /path/to/venv/bin/python] [--repeat 1]

Generates an ASSUME-format scenario (benchmarks/generate_scenario.py), runs it with this
project (load + simulation, CSV output to a temporary folder) and, if ``--assume-python``
names a Python that has assume-framework 0.6.0 installed (never a dependency of this
project), runs ASSUME on the same folder in the same benchmark run. Prints wall times,
clearings per second, the ratio, and whether every product's price and volumes agree.
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import machine  # noqa: E402
from generate_scenario import generate  # noqa: E402

ASSUME_RUNNER = """
import sys, time
from assume import World
from assume.scenario.loader_csv import load_scenario_folder
inputs, scenario, case, out = sys.argv[1:5]
world = World(export_csv_path=out, database_uri="")
began = time.perf_counter()
load_scenario_folder(world, inputs_path=inputs, scenario=scenario, study_case=case)
world.run()
print(time.perf_counter() - began)
"""


def run_ours(inputs: Path, scenario: str, out: Path) -> tuple[float, float]:
    """(load seconds, run seconds) of this project on the scenario."""
    from assume.scenario.build import build_world
    from assume.scenario.loader import load_scenario
    from assume.world import World

    began = time.perf_counter()
    spec = load_scenario(inputs, scenario, "base")
    world = World(export_csv_path=str(out), log_level="WARNING")
    build_world(spec, world, progress=False)
    loaded = time.perf_counter()
    world.run()
    return loaded - began, time.perf_counter() - loaded


def run_assume(python: str, inputs: Path, scenario: str, out: Path) -> float:
    """Wall time of ASSUME 0.6.0 (load + run) in its own interpreter."""
    result = subprocess.run(
        [python, "-c", ASSUME_RUNNER, str(inputs), scenario, "base", str(out)],
        cwd=str(inputs),  # so that this project's package does not shadow ASSUME's
        capture_output=True,
        text=True,
    )
    if result.returncode:
        raise SystemExit(f"ASSUME failed:\n{result.stderr[-3000:]}")
    return float(result.stdout.strip().splitlines()[-1])


def agreement(ours: Path, theirs: Path) -> str:
    """How many products differ in price or volume (ASSUME rounds its CSV to 5 digits)."""

    def load(path):
        with open(path, newline="") as handle:
            return {(r["market_id"], r["product_start"]): r for r in csv.DictReader(handle)}

    a, b = load(ours), load(theirs)
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
    parser.add_argument("--repeat", type=int, default=1, help="runs of ours; the best is kept")
    parser.add_argument("--assume-python", help="a Python with assume-framework==0.6.0")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        folder = generate(args.plants, args.operators, args.days, tmp / "inputs")
        scenario = folder.name
        runs = [run_ours(tmp / "inputs", scenario, tmp / "ours") for _ in range(args.repeat)]
        load, run = min(runs, key=sum)
        clearings = sum(1 for _ in open(tmp / "ours" / f"{scenario}_base" / "market_meta.csv")) - 1
        print(
            f"scenario: {args.plants} plants, {args.operators} operators, {args.days} days hourly"
        )
        print(f"{'':24}{'wall s':>10}{'clearings/s':>14}")
        print(f"{'assume (this project)':24}{load + run:10.2f}{clearings / (load + run):14.0f}")
        print(f"{'  of which simulation':24}{run:10.2f}")
        if args.assume_python:
            theirs = run_assume(args.assume_python, tmp / "inputs", scenario, tmp / "theirs")
            print(f"{'ASSUME 0.6.0':24}{theirs:10.2f}{clearings / theirs:14.0f}")
            print(f"speed-up: {theirs / (load + run):.1f}x")
            print(
                "results: "
                + agreement(
                    tmp / "ours" / f"{scenario}_base" / "market_meta.csv",
                    tmp / "theirs" / f"{scenario}_base" / "market_meta.csv",
                )
            )
        print(machine())


if __name__ == "__main__":
    main()
