"""Time and peak memory of a large scenario in one process, for growing horizons.

    python benchmarks/large.py [--plants 1000] [--operators 100] [--months 1 3 6 12]
        [--workdir DIR] [--keep-results]

For each horizon, generates (benchmarks/generate_scenario.py) ``--plants`` naive power plants in
``--operators`` units operators on an hourly market from 2019-01-01 and runs ``assume`` on it in
one process, as a new process (start-up included), with CSV results. Prints per horizon the wall
time, the peak memory of the simulation process and of the output writer (a process forked from
it that writes the CSV files), the peak of both together and the size of the results on disk.
If memory stays flat as the horizon grows, results are streamed to disk rather than kept.

How memory is measured: the command runs in a fresh interpreter that calls assume's command
line and then reports ``getrusage``: RUSAGE_SELF gives the simulation process's peak resident
set (exact, kept by the kernel), RUSAGE_CHILDREN the writer's, since the simulation waits for
it; that figure includes the pages the writer shares with the simulation since the fork. The
peak of both together is sampled: every 0.1 s the benchmark adds up the proportional set size
(Pss in /proc/PID/smaps_rollup, Linux only) of the process and its descendants (looked for
every second), which counts each shared page once; a peak shorter than 0.1 s can be missed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import (  # noqa: E402
    compile_bytecode,
    machine,
    markdown_table,
    months_to_days,
    workdir,
)
from generate_scenario import generate  # noqa: E402

# runs assume's command line with sys.argv[2:], as the command does (a process that ends with
# it), and writes the peaks (KiB) to sys.argv[1]
RUNNER = """\
import json, resource, sys
from assume.cli import main
code = main(sys.argv[2:], own_process=True)
peaks = {
    "main_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    "writer_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
}
with open(sys.argv[1], "w") as handle:
    json.dump(peaks, handle)
sys.exit(code)
"""
SAMPLE_SECONDS = 0.1
# samples between two looks for new processes (a scan of /proc takes a few ms)
SAMPLES_PER_SCAN = 10
MB = 1e6
GOAL_SECONDS = 60.0
GOAL_MB = 1000.0


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it, from the parent ids in /proc/*/stat."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as stat:
                # the command name in parentheses may hold spaces; the parent id follows it
                parent = int(stat.read().rpartition(")")[2].split()[1])
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
        children.setdefault(parent, []).append(int(entry.name))
    tree, pending = [], [pid]
    while pending:
        process = pending.pop()
        tree.append(process)
        pending += children.get(process, [])
    return tree


def proportional_set_kib(pid: int) -> int:
    """The Pss of a process in KiB (0 if it is gone or the kernel does not tell)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class TreeMemory(threading.Thread):
    """Samples the summed Pss of a process tree until stopped; ``peak_kib`` is the largest."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid = pid
        self.peak_kib = 0
        self.stopped = threading.Event()

    def run(self) -> None:
        samples = 0
        while not self.stopped.wait(SAMPLE_SECONDS):
            if samples % SAMPLES_PER_SCAN == 0:
                tree = descendants(self.pid)
            samples += 1
            self.peak_kib = max(self.peak_kib, sum(proportional_set_kib(pid) for pid in tree))


def measure(args: list[str], report: Path) -> dict:
    """Wall seconds and peaks (MB) of ``assume ARGS`` in one process."""
    compile_bytecode()
    command = [sys.executable, "-c", RUNNER, str(report), *args, "-l", "ERROR", "--no-progress"]
    began = time.perf_counter()
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    sampler = TreeMemory(process.pid)
    sampler.start()
    _, errors = process.communicate()
    wall = time.perf_counter() - began
    sampler.stopped.set()
    sampler.join()
    if process.returncode:
        raise SystemExit(
            f"assume {' '.join(args)} exited with {process.returncode}:\n{errors[-3000:]}"
        )
    peaks = json.loads(report.read_text())
    return {
        "wall": wall,
        "main": peaks["main_kib"] * 1024 / MB,
        "writer": peaks["writer_kib"] * 1024 / MB,
        "together": sampler.peak_kib * 1024 / MB,
    }


def folder_size(folder: Path) -> float:
    """Bytes of all files below ``folder``, in MB."""
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file()) / MB


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plants", type=int, default=1000, help="power plants (default 1000)")
    parser.add_argument("--operators", type=int, default=100, help="units operators (default 100)")
    parser.add_argument(
        "--months",
        type=int,
        nargs="+",
        default=[1, 3, 6, 12],
        help="horizons in months (default 1 3 6 12)",
    )
    parser.add_argument("--workdir", type=Path, help="keep scenarios (and results) here")
    parser.add_argument(
        "--keep-results", action="store_true", help="keep each run's CSV results (default: removed)"
    )
    args = parser.parse_args(argv)

    print(f"scenario: {args.plants} naive power plants, {args.operators} operators, hourly market")
    rows = []
    with workdir(args.workdir) as folder:
        for months in args.months:
            days = months_to_days(months)
            name = f"large_{months}m"
            try:
                generate(args.plants, args.operators, days, folder / "inputs", name=name)
            except ValueError as error:
                parser.error(str(error))
            results = folder / "results" / name
            run = ["-s", name, "-i", str(folder / "inputs"), "-csv", str(results)]
            figures = measure(run, folder / f"{name}_peaks.json")
            size = folder_size(results)
            if not args.keep_results:
                shutil.rmtree(results)
            rows.append((months, days * 24, figures, size))
            print(
                f"  {name}: {figures['wall']:.1f} s, {figures['together']:.0f} MB",
                file=sys.stderr,
                flush=True,
            )
    first = rows[0][2]["together"]
    print(
        markdown_table(
            [
                "months",
                "hours",
                "wall",
                "simulation peak",
                "writer peak",
                "both (Pss)",
                "vs first",
                "results on disk",
            ],
            [
                [
                    months,
                    hours,
                    f"{figures['wall']:.1f} s",
                    f"{figures['main']:.0f} MB",
                    f"{figures['writer']:.0f} MB",
                    f"{figures['together']:.0f} MB",
                    f"{figures['together'] - first:+.0f} MB",
                    f"{size:.0f} MB",
                ]
                for months, hours, figures, size in rows
            ],
        )
    )
    months, _, figures, _ = rows[-1]
    peak = max(figures["main"], figures["together"])
    print(
        f"longest ({months} months): {figures['wall']:.1f} s (goal under {GOAL_SECONDS:.0f} s), "
        f"peak {peak:.0f} MB (goal at most {GOAL_MB:.0f} MB)"
    )
    print(machine())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
