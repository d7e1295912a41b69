"""Cost of one clock step across processes, with agents that do no work.

    python benchmarks/sync_cost.py [--workers 1 2 4 8] [--mqtt HOST:PORT] [--days 16] [--repeat 5]

For each worker count, runs a scenario of one hourly market and one units operator per
worker whose only unit bids nothing, in one process and with ``assume -p`` over TCP (and
over MQTT if a broker is given). The time per step is what the manager measures around its
clock loop (the last log line of a run: "N clock steps in S s"), so start-up, joining and
writing results are not in it; the median of ``--repeat`` runs is shown.

(An earlier version took the difference of the wall times of two horizons. On this shared
machine whole runs vary by a few hundred milliseconds, so that difference moved by ±0.3 ms
per step from one run to the next.)
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import CLOCK_STEPS, machine  # noqa: E402

START = dt.datetime(2019, 1, 1)


def write_scenario(folder: Path, operators: int, days: int) -> None:
    folder.mkdir(parents=True)
    config = {
        "base": {
            "start_date": "2019-01-01 00:00",
            "end_date": f"{START + dt.timedelta(days=days):%Y-%m-%d %H:%M}",
            "time_step": "1h",
            "save_frequency_hours": None,
            "markets_config": {
                "EOM": {
                    "operator": "EOM_operator",
                    "product_type": "energy",
                    "products": [{"duration": "1h", "count": 1, "first_delivery": "1h"}],
                    "opening_frequency": "1h",
                    "opening_duration": "1h",
                    "market_mechanism": "pay_as_clear",
                }
            },
        }
    }
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    names = [f"idle_{i}" for i in range(operators)]
    with open(folder / "demand_units.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["name", "technology", "bidding_EOM", "max_power", "unit_operator"])
        for i, name in enumerate(names):
            writer.writerow([name, "idle", "demand_energy_naive", 0, f"operator_{i}"])
    with open(folder / "demand_df.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["datetime", *names])
        for hour in range(days * 24 + 1):
            moment = START + dt.timedelta(hours=hour)
            writer.writerow([f"{moment:%Y-%m-%d %H:%M:%S}", *[0] * operators])


def stepping(args: list[str]) -> float:
    """Seconds per clock step of one run, as its manager measured them."""
    command = [sys.executable, "-m", "assume", *args, "-l", "INFO", "--no-progress"]
    result = subprocess.run(command, capture_output=True, text=True)
    found = CLOCK_STEPS.search(result.stderr)
    if result.returncode or found is None:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr[-3000:]}")
    return float(found.group(2)) / int(found.group(1))


def per_step(inputs: Path, workers: int, days: int, extra: list[str], repeat: int) -> float:
    run = ["-s", f"w{workers}_d{days}", "-i", str(inputs), "-db", "sqlite:///:memory:", *extra]
    return statistics.median(stepping(run) for _ in range(repeat))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--days", type=int, default=16, help="simulated days (default 16)")
    parser.add_argument("--mqtt", help="broker HOST:PORT to measure MQTT too")
    parser.add_argument(
        "--repeat", type=int, default=5, help="runs per figure, the median counts (default 5)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        inputs = Path(tmp)
        for workers in args.workers:
            write_scenario(inputs / f"w{workers}_d{args.days}", workers, args.days)
        header = f"{'workers':>8}{'one process':>14}{'TCP':>10}" + (
            f"{'MQTT':>10}" if args.mqtt else ""
        )
        print("milliseconds per clock step (agents do no work)")
        print(header)
        for workers in args.workers:
            days = args.days
            row = f"{workers:>8}{1000 * per_step(inputs, workers, days, [], args.repeat):>14.3f}"
            tcp = per_step(
                inputs, workers, days, ["-p", "--workers", str(workers), "--port", "0"], args.repeat
            )
            row += f"{1000 * tcp:>10.3f}"
            if args.mqtt:
                mqtt = per_step(
                    inputs,
                    workers,
                    days,
                    ["-p", "--workers", str(workers), "--mqtt", args.mqtt],
                    args.repeat,
                )
                row += f"{1000 * mqtt:>10.3f}"
            print(row, flush=True)
    print(machine())


if __name__ == "__main__":
    main()
