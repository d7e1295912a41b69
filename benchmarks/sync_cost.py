"""Cost of one clock step across processes, with agents that do no work.

    python benchmarks/sync_cost.py [--workers 1 2 4 8] [--mqtt HOST:PORT] [--days 2 16] [--repeat 3]

For each worker count, runs a scenario of one hourly market and one units operator per
worker whose only unit bids nothing, in one process and with ``assume -p`` over TCP (and
over MQTT if a broker is given), for two horizons. The time per step is the difference of
the wall times over the difference of the step counts, so process start-up cancels out.
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import machine, timed  # noqa: E402


def write_scenario(folder: Path, operators: int, days: int) -> None:
    folder.mkdir(parents=True)
    config = {
        "base": {
            "start_date": "2019-01-01 00:00",
            "end_date": f"2019-01-{1 + days:02d} 00:00",
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
            day, clock = divmod(hour, 24)
            writer.writerow([f"2019-01-{1 + day:02d} {clock:02d}:00:00", *[0] * operators])


def per_step(
    inputs: Path, workers: int, days: tuple[int, int], extra: list[str], repeat: int
) -> float:
    # the shortest of several runs: on a shared machine noise only ever adds time
    times = [
        min(
            timed(
                ["-s", f"w{workers}_d{d}", "-i", str(inputs), "-db", "sqlite:///:memory:", *extra]
            )
            for _ in range(repeat)
        )
        for d in days
    ]
    steps = [d * 24 - 1 for d in days]
    return (times[1] - times[0]) / (steps[1] - steps[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--days", type=int, nargs=2, default=[2, 16])
    parser.add_argument("--mqtt", help="broker HOST:PORT to measure MQTT too")
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs per horizon, the shortest counts (default 3)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        inputs = Path(tmp)
        for workers in args.workers:
            for days in args.days:
                write_scenario(inputs / f"w{workers}_d{days}", workers, days)
        header = f"{'workers':>8}{'one process':>14}{'TCP':>10}" + (
            f"{'MQTT':>10}" if args.mqtt else ""
        )
        print("milliseconds per clock step (agents do no work)")
        print(header)
        for workers in args.workers:
            days = tuple(args.days)
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
