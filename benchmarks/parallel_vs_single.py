"""Wall time of ``assume -p`` against one process on the shipped scenarios.

    python benchmarks/parallel_vs_single.py [--repeat 3] [--mqtt HOST:PORT]

Each command runs as a new process (start-up included, as a user sees it); the best of
``--repeat`` runs is kept, one process and -p alternating so that machine noise hits both.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, machine, timed  # noqa: E402

SCENARIOS = [("example_01", "base"), ("example_01", "pay_as_bid"), ("example_02", "dam")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--mqtt", help="also measure -p over this MQTT broker")
    args = parser.parse_args()
    modes = {"one process": [], "-p (TCP)": ["-p", "--port", "0"]}
    if args.mqtt:
        modes["-p (MQTT)"] = ["-p", "--mqtt", args.mqtt]
    print(f"{'scenario':26}" + "".join(f"{m:>14}" for m in modes) + f"{'ratio TCP':>11}")
    with tempfile.TemporaryDirectory() as out:
        for scenario, case in SCENARIOS:
            best = {mode: float("inf") for mode in modes}
            for _ in range(args.repeat):
                for mode, extra in modes.items():
                    run = ["-s", scenario, "-c", case, "-csv", out, *extra]
                    best[mode] = min(best[mode], timed(run, cwd=ROOT))
            ratio = best["-p (TCP)"] / best["one process"]
            cells = "".join(f"{best[m]:>13.2f}s" for m in modes)
            print(f"{scenario + ' ' + case:26}{cells}{ratio:>10.2f}x", flush=True)
    print(machine())


if __name__ == "__main__":
    main()
