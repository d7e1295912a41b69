"""Pieces the benchmark scripts share: running the ``assume`` command as a new process and
timing it, comparing result tables of two runs, calendar months of a horizon, the machine
description and Markdown tables."""

from __future__ import annotations

import compileall
import filecmp
import importlib.metadata
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from itertools import zip_longest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# the tables whose rows must not depend on how a run is distributed
RESULT_TABLES = ("market_meta", "market_orders", "market_dispatch", "unit_dispatch")


# the summary line that ends a run's log at level INFO: "... (57 clock steps in 3.188 s, ...)"
CLOCK_STEPS = re.compile(r"\((\d+) clock steps in ([0-9.]+) s")


def assume_command(args: Sequence[str]) -> list[str]:
    """``python -m assume ARGS`` with this interpreter, quiet: errors only, no progress bar."""
    return [sys.executable, "-m", "assume", *args, "-l", "ERROR", "--no-progress"]


def run_logged(command: Sequence[str], cwd: Path | None = None) -> tuple[float, str]:
    """Wall seconds and standard error of ``command`` as a new process; stops the benchmark
    with the end of its error output if it fails."""
    began = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    took = time.perf_counter() - began
    if result.returncode:
        _failed(command, result.returncode, result.stderr)
    return took, result.stderr


def _failed(command: Sequence[str], code: int, log: str) -> None:
    """Stop the benchmark: ``command`` exited with ``code``; the end of its ``log``."""
    raise SystemExit(f"{' '.join(map(str, command))} exited with {code}:\n{log[-3000:]}")


def run_timed(command: Sequence[str], cwd: Path | None = None) -> float:
    """Wall seconds of ``command`` as a new process (see :func:`run_logged`)."""
    return run_logged(command, cwd)[0]


def compile_bytecode() -> None:
    """Compile assume's modules to bytecode files, as installing a package does. Python
    writes them itself at the first import, unless PYTHONDONTWRITEBYTECODE is set (as it is
    on the machines these benchmarks ran on): then an editable checkout would compile every
    module at every start, about 0.2 s that no installed copy pays."""
    compileall.compile_dir(ROOT / "assume", quiet=1)


def timed_with_log(args: Sequence[str], cwd: Path | None = None) -> tuple[float, str]:
    """:func:`timed`, at log level INFO: the wall seconds and the run's log (its standard
    error), which ends with the summary line naming the clock steps' own time."""
    compile_bytecode()
    return run_logged([*assume_command(args), "-l", "INFO"], cwd)  # the last -l counts


def timed_together(runs: Sequence[Sequence[str]]) -> tuple[float, list[str]]:
    """The ``assume`` commands of ``runs`` started at once, at log level INFO: the wall
    seconds until the last has ended, and each run's log; stops the benchmark if one fails."""
    compile_bytecode()
    logs = [tempfile.TemporaryFile("w+") for _ in runs]  # no pipe to fill while others run
    processes: list[subprocess.Popen] = []
    try:
        began = time.perf_counter()
        for args, log in zip(runs, logs, strict=True):
            command = [*assume_command(args), "-l", "INFO"]
            processes.append(subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log))
        for process in processes:
            process.wait()
        took = time.perf_counter() - began
        texts = []
        for log in logs:
            log.seek(0)
            texts.append(log.read())
    finally:
        for process in processes:  # interrupted (Ctrl-C): none is left running
            if process.poll() is None:
                process.kill()
                process.wait()
        for log in logs:
            log.close()
    for args, process, text in zip(runs, processes, texts, strict=True):
        if process.returncode:
            _failed(assume_command(args), process.returncode, text)
    return took, texts


def timed(args: Sequence[str], cwd: Path | None = None) -> float:
    """Wall seconds of the ``assume`` command with ``args``, start-up included (with
    assume's bytecode compiled, see :func:`compile_bytecode`)."""
    compile_bytecode()
    return run_timed(assume_command(args), cwd)


def first_difference(
    reference: Path, other: Path, tables: Sequence[str] = RESULT_TABLES
) -> str | None:
    """Where the CSV tables of folder ``other`` first differ from those of ``reference``
    (a file and line), or None if every table is byte-identical."""
    for table in tables:
        expected, found = reference / f"{table}.csv", other / f"{table}.csv"
        if not expected.exists():
            return f"{table}.csv missing in the reference run"
        if not found.exists():
            return f"{table}.csv missing"
        with expected.open("rb") as handle:
            if sum(1 for _ in handle) < 2:  # identical empty tables would prove nothing
                return f"{table}.csv has no rows in the reference run"
        if filecmp.cmp(expected, found, shallow=False):
            continue
        with expected.open("rb") as left, found.open("rb") as right:
            for line, (a, b) in enumerate(zip_longest(left, right), start=1):
                if a != b:
                    return f"{table}.csv differs from line {line}"
    return None


def months_to_days(months: int, start: date = date(2019, 1, 1)) -> int:
    """Days in ``months`` calendar months from ``start`` (12 from 2019-01-01: 365)."""
    year, month = divmod(start.month - 1 + months, 12)
    return (start.replace(year=start.year + year, month=month + 1) - start).days


def machine() -> str:
    """One line naming the machine and the software versions the figures depend on."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            model = next(
                (
                    line.split(":", 1)[1].strip()
                    for line in cpuinfo
                    if line.startswith("model name")
                ),
                model,
            )
    except OSError:
        pass  # not Linux: keep what platform knows
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    versions = ", ".join(
        f"{name} {importlib.metadata.version(name)}" for name in ("numpy", "mango-agents")
    )
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    return (
        f"machine: {os.cpu_count()} cores ({model}), {memory:.0f} GiB, "
        f"Python {platform.python_version()}, {versions}; load average {load}\n{speed()}\n"
        f"assume measured: {measured_assume()}"
    )


def measured_assume() -> str:
    """Where the runs' ``python -m assume`` (or ``-c``) imports assume from. Their path
    begins with the current directory, so in this repository they run its checkout whatever
    PYTHONPATH says: comparing another version through PYTHONPATH needs another directory."""
    found = subprocess.run(
        [sys.executable, "-c", "import assume, os; print(os.path.dirname(assume.__file__))"],
        capture_output=True,
        text=True,
    )
    return found.stdout.strip() or f"(cannot import assume: {found.stderr.strip()[-200:]})"


def speed() -> str:
    """One line with the machine's speed at this moment, in the three kinds of work this
    project's figures are made of: plain Python, numpy calls on small arrays (an operator's
    ten units) and round trips between two processes over loopback TCP (the clock steps of
    ``-p``). These machines differ two to four times between sessions and drift within one,
    so a figure is comparable across sessions only next to these."""
    import numpy as np

    def best(work, repeat: int = 5) -> float:
        times = []
        for _ in range(repeat):
            began = time.perf_counter()
            work()
            times.append(time.perf_counter() - began)
        return min(times)

    loops = 200_000
    python = best(lambda: sum(i * i for i in range(loops))) / loops
    left, right = np.arange(10.0), np.ones(10)
    calls = 2_000
    numpy = best(lambda: [np.maximum(left - right, 0.0) for _ in range(calls)]) / (2 * calls)
    line = (
        f"speed now: Python {python * 1e9:.0f} ns per loop step, "
        f"numpy {numpy * 1e6:.2f} µs per call"
    )
    trip = round_trip()
    if trip is not None:
        line += f", loopback TCP round trip {trip * 1e6:.0f} µs"
    return line


def round_trip(trips: int = 1_000) -> float | None:
    """Median seconds of a 64-byte round trip to a forked echo process over loopback TCP
    (None where processes cannot be forked)."""
    import signal
    import socket
    import statistics

    if not hasattr(os, "fork"):
        return None
    server = socket.create_server(("127.0.0.1", 0))
    address = server.getsockname()
    child = os.fork()
    if child == 0:  # the echo process: answers until the connection closes
        try:
            connection, _ = server.accept()
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            while data := connection.recv(64):
                connection.sendall(data)
        finally:
            os._exit(0)
    server.close()  # the echo process still listens
    times = []
    try:
        with socket.create_connection(address, timeout=10) as connection:
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            message = b"x" * 64
            for _ in range(trips):
                began = time.perf_counter()
                connection.sendall(message)
                received = 0
                while received < len(message):
                    chunk = connection.recv(64)
                    if not chunk:
                        raise ConnectionError("the echo process closed the connection")
                    received += len(chunk)
                times.append(time.perf_counter() - began)
    finally:
        if not times:  # it may still wait for the connection
            os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
    return statistics.median(times)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table, as benchmarks/RESULTS.md keeps them."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


@contextmanager
def workdir(path: Path | None) -> Iterator[Path]:
    """``path`` (created if needed, kept afterwards) or a temporary folder removed at the end."""
    if path is not None:
        path.mkdir(parents=True, exist_ok=True)
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="assume-benchmark-") as folder:
        yield Path(folder)
