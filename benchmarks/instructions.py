"""Instructions per clock step of a large scenario in one process, counted by valgrind.

    python benchmarks/instructions.py [--plants 1000] [--operators 100] [--days 2 4]
        [--workdir DIR]

Wall and CPU times on these shared machines move by about ±15 % between runs, which hides what
one change to the code of a step gains. Valgrind's callgrind counts the instructions the
simulation process executes instead: with PYTHONHASHSEED fixed, the same code gives the same
count to about 0.3 %. The script runs the generated scenario (benchmarks/generate_scenario.py)
for each horizon and prints the count per run and the difference per clock step between the
shortest and the longest, in which start-up and loading cancel out. Instructions are not time
(cache misses are not in them), but a change that runs fewer of them in every step runs faster.

Compare two versions of the code by running the script under each (one from a git worktree on
PYTHONPATH, say). It takes about forty times as long as the runs themselves: a few minutes with
the defaults. Needs valgrind (apt-get install valgrind).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import CLOCK_STEPS, compile_bytecode, machine, markdown_table, workdir  # noqa: E402
from generate_scenario import generate  # noqa: E402

COLLECTED = re.compile(r"==\d+== Collected : (\d+)")


def counted(valgrind: str, args: list[str], folder: Path) -> tuple[int, int]:
    """(instructions, clock steps) of the simulation process of ``assume ARGS``."""
    command = [
        valgrind,
        "--tool=callgrind",
        f"--callgrind-out-file={folder / 'callgrind.%p'}",
        # the output writer is a process forked from the simulation's: counted apart, unshown
        "--child-silent-after-fork=yes",
        sys.executable,
        "-m",
        "assume",
        *args,
        "-l",
        "INFO",
        "--no-progress",
    ]
    result = subprocess.run(
        command, capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"}
    )
    instructions, steps = COLLECTED.search(result.stderr), CLOCK_STEPS.search(result.stderr)
    if result.returncode or instructions is None or steps is None:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr[-3000:]}")
    return int(instructions.group(1)), int(steps.group(1))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plants", type=int, default=1000, help="power plants (default 1000)")
    parser.add_argument("--operators", type=int, default=100, help="units operators (default 100)")
    parser.add_argument(
        "--days", type=int, nargs="+", default=[2, 4], help="horizons in days (default 2 4)"
    )
    parser.add_argument("--workdir", type=Path, help="keep scenarios, results and counts here")
    args = parser.parse_args(argv)
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise SystemExit("valgrind is not installed (apt-get install valgrind)")
    if len(set(args.days)) < 2:
        raise SystemExit("--days: give at least two different horizons")
    compile_bytecode()
    print(
        f"scenario: {args.plants} naive power plants, {args.operators} operators, hourly market",
        flush=True,
    )
    rows, counts = [], {}
    with workdir(args.workdir) as folder:
        for days in sorted(set(args.days)):
            name = f"instructions_{days}d"
            generate(args.plants, args.operators, days, folder / "inputs", name=name)
            run = ["-s", name, "-i", str(folder / "inputs"), "-csv", str(folder / "results")]
            counts[days] = counted(valgrind, run, folder)
            rows.append((days, counts[days][1], f"{counts[days][0]:,}"))
            print(f"  {days} days: {counts[days][0]:,} instructions", flush=True)
    print(markdown_table(("days", "clock steps", "instructions"), rows))
    (short_count, short_steps), (long_count, long_steps) = counts[min(counts)], counts[max(counts)]
    per_step = (long_count - short_count) / (long_steps - short_steps)
    print(f"per clock step: {per_step:,.0f} instructions ({min(counts)} to {max(counts)} days)")
    print(machine())


if __name__ == "__main__":
    main()
