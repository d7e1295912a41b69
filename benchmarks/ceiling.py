"""How much faster the machine runs the same strategy work in several processes at once.

    python benchmarks/ceiling.py [--processes 2] [--seconds 2] [--repeat 3]

Runs the storages' dynamic programme (``storage_values`` of storage_energy_optimized: 8
storages, foresight 336 h, 401 levels of state of charge, the defaults of benchmarks/scaling.py,
which passes its own) as
``--processes`` batches of about ``--seconds`` each: one process doing them one after the other,
and ``--processes`` processes doing one each at the same time. The ratio of the two wall times
is the most that ``assume -p`` can gain from that many workers on this machine for this work,
with nothing to synchronise, no messages and no start-up: on a machine whose cores run
independently it is the number of processes; on a shared virtual machine whose cores compete
(for caches, memory bandwidth or the host's own cores) it is less. scaling.py prints it next to
the speed-ups it measures. Then the same for a plain Python loop, which touches next to no
memory: where that ratio is as far from the number of processes, the cores themselves compete
(virtual cores that share a physical one, say), not the programme's use of memory.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import machine  # noqa: E402

from assume.strategies.storage_values import STORAGE_PARAMETERS, storage_values  # noqa: E402

STORAGES = 8
FORESIGHT = 336
LEVELS = 401


def _problem(foresight: int = FORESIGHT) -> tuple:
    """A fixed problem of ``foresight`` hours for 8 storages (prices with a daily cycle)."""
    hours = np.arange(foresight)
    price = 40 + 25 * np.sin(hours * 2 * np.pi / 24) + 5 * np.cos(hours / 7)
    availability = np.ones((STORAGES, foresight))
    values = {key: np.zeros(STORAGES) for key in STORAGE_PARAMETERS}
    values.update(
        max_power_charge=np.full(STORAGES, -100.0),
        max_power_discharge=np.full(STORAGES, 100.0),
        efficiency_charge=np.full(STORAGES, 0.9),
        efficiency_discharge=np.full(STORAGES, 0.9),
        max_soc=np.ones(STORAGES),
        capacity=np.linspace(400.0, 800.0, STORAGES),
    )
    return price, availability, values


def batch(repeats: int, foresight: int = FORESIGHT, levels: int = LEVELS) -> None:
    """``repeats`` runs of the dynamic programme."""
    price, availability, units = _problem(foresight)
    for _ in range(repeats):
        storage_values(price, availability, 1.0, units, levels)


def python_batch(repeats: int, foresight: int = FORESIGHT, levels: int = LEVELS) -> None:
    """``repeats`` runs of a plain Python loop (no numpy, no memory to speak of): what the
    cores give to the interpreter alone. ``foresight`` and ``levels`` are not used."""
    for _ in range(repeats):
        total = 0
        for number in range(100_000):
            total += number


WORK = {"programme": batch, "python": python_batch}


def _batches(kind: str, count: int, repeats: int, foresight: int, levels: int) -> None:
    for _ in range(count):
        WORK[kind](repeats, foresight, levels)


def _wall(processes: list[multiprocessing.Process]) -> float:
    began = time.perf_counter()
    for process in processes:
        process.start()
    for process in processes:
        process.join()
        if process.exitcode:
            raise SystemExit(f"a calibration process failed with exit code {process.exitcode}")
    return time.perf_counter() - began


def ceiling(
    processes: int = 2,
    seconds: float = 2.0,
    repeat: int = 3,
    foresight: int = FORESIGHT,
    levels: int = LEVELS,
    kind: str = "programme",
) -> tuple[float, float]:
    """(median ratio, one batch's seconds alone) of ``repeat`` rounds: ``processes`` batches
    one after the other in one process, against one batch in each of ``processes`` processes at
    once, of the programme for ``foresight`` hours and ``levels`` levels (``kind``
    "programme") or of a plain Python loop ("python"). Each round runs both, alternately
    first, so that machine noise hits both alike."""
    context = multiprocessing.get_context("fork")
    began = time.perf_counter()
    WORK[kind](1, foresight, levels)
    repeats = max(1, round(seconds / (time.perf_counter() - began)))
    ratios, alone = [], []
    for round_ in range(repeat):
        measured = {}
        order = ("serial", "parallel") if round_ % 2 == 0 else ("parallel", "serial")
        for way in order:
            if way == "serial":
                work = (kind, processes, repeats, foresight, levels)
                workers = [context.Process(target=_batches, args=work)]
            else:
                work = (kind, 1, repeats, foresight, levels)
                workers = [context.Process(target=_batches, args=work) for _ in range(processes)]
            measured[way] = _wall(workers)
        ratios.append(measured["serial"] / measured["parallel"])
        alone.append(measured["serial"] / processes)
    return statistics.median(ratios), statistics.median(alone)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=2, help="processes (default 2)")
    parser.add_argument(
        "--seconds", type=float, default=2.0, help="seconds of one batch (default 2)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="rounds; the median (default 3)")
    args = parser.parse_args(argv)
    ratio, alone = ceiling(args.processes, args.seconds, args.repeat)
    print(
        f"{args.processes} processes at once do the same dynamic programme {ratio:.2f}x as fast "
        f"as one ({alone:.2f} s per batch alone; median of {args.repeat})"
    )
    ratio, alone = ceiling(args.processes, args.seconds, args.repeat, kind="python")
    print(
        f"{args.processes} processes at once run the same plain Python loop {ratio:.2f}x as "
        f"fast as one ({alone:.2f} s per batch alone; median of {args.repeat})"
    )
    print(machine())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
