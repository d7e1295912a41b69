"""Faults injected into real processes: a worker or the manager killed, missing peers,
SIGTERM, a wrong token. Nothing hangs; results computed so far are written."""

import csv
import importlib.util
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COMMAND = [sys.executable, "-m", "assume", "-l", "INFO", "--no-progress"]


@pytest.fixture(scope="module")
def long_run(tmp_path_factory) -> Path:
    """A scenario that runs for several seconds when distributed (a year, 40 plants): the
    tests stop it after its first results, long before its end."""
    path = ROOT / "benchmarks" / "generate_scenario.py"
    spec = importlib.util.spec_from_file_location("generate_scenario", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    inputs = tmp_path_factory.mktemp("long")
    module.generate(40, 4, 365, inputs, name="long")
    return inputs


def start(*args) -> subprocess.Popen:
    return subprocess.Popen([*COMMAND, *args], stderr=subprocess.PIPE, text=True)


def wait_for(path: Path, process: subprocess.Popen, timeout: float = 60) -> None:
    """Wait until ``path`` exists (the run is under way)."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, process.stderr.read()
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.05)  # poll: an outside observer waiting for the first results on disk


def finish(process: subprocess.Popen, within: float) -> tuple[int, str, float]:
    began = time.monotonic()
    _, errors = process.communicate(timeout=within)
    return process.returncode, errors, time.monotonic() - began


def rows(path: Path) -> int:
    with open(path, newline="") as handle:
        return sum(1 for _ in csv.DictReader(handle))


def last_dispatch(long_run: Path, out: Path, operators: list[str]) -> dict[str, str]:
    """The last unit_dispatch time of each of ``operators``' units, per operator."""
    operator_of = {}
    for table in ("powerplant_units.csv", "demand_units.csv"):
        with open(long_run / "long" / table, newline="") as handle:
            for row in csv.DictReader(handle):
                operator_of[row["name"]] = row["unit_operator"]
    last: dict[str, str] = {}
    with open(out / "long_base" / "unit_dispatch.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            operator = operator_of[row["unit"]]
            last[operator] = max(last.get(operator, ""), row["time"])
    return {operator: last.get(operator, "") for operator in operators}


def distributed(long_run, port, out, *extra):
    common = ["-s", "long", "-i", str(long_run), "--workers", "2", "--peer-timeout", "3", *extra]
    manager = start(*common, "--role", "manager", "--port", str(port), "-csv", str(out))
    workers = [
        start(
            *common, "--role", "worker", "--worker-index", str(i), "--manager", f"127.0.0.1:{port}"
        )
        for i in (0, 1)
    ]
    return manager, workers


def test_a_killed_worker_stops_the_run_and_keeps_the_results(long_run, port, tmp_path):
    # its connection closes with its process: the manager does not wait out the peer timeout
    manager, workers = distributed(long_run, port, tmp_path, "--peer-timeout", "60")
    meta = tmp_path / "long_base" / "market_meta.csv"
    wait_for(meta, manager)
    workers[1].send_signal(signal.SIGKILL)
    code, errors, took = finish(manager, within=60)
    assert code == 1
    assert "worker 1 (at 127.0.0.1:" in errors and "closed its connection" in errors
    assert "simulation time 2019-" in errors
    assert took < 30
    assert rows(meta) >= 48  # at least the first two days, flushed before the kill
    stopped = re.search(r"stopped early at (\S+ \d\d:\d\d:\d\d)", errors).group(1)
    code, errors, _ = finish(workers[0], within=30)
    assert code != 0 and "the manager stopped the run" in errors
    # the worker that still answered reported its dispatch up to the stop
    survivors = re.search(r"worker 0 joined with operators (.*)", errors).group(1).split(", ")
    assert last_dispatch(long_run, tmp_path, survivors) == dict.fromkeys(survivors, stopped)


def test_a_worker_that_stops_answering_is_given_up_after_the_peer_timeout(long_run, port, tmp_path):
    # stopped, not ended: its connection stays open, so only the silence tells
    manager, workers = distributed(long_run, port, tmp_path)
    meta = tmp_path / "long_base" / "market_meta.csv"
    wait_for(meta, manager)
    workers[1].send_signal(signal.SIGSTOP)
    try:
        code, errors, _ = finish(manager, within=60)
    finally:
        workers[1].kill()
        workers[1].communicate()
    assert code == 1
    assert "worker(s) 1 did not answer the clock within 3 s" in errors
    assert "closed its connection" not in errors
    assert rows(meta) >= 48
    code, errors, _ = finish(workers[0], within=30)
    assert code != 0 and "the manager stopped the run" in errors


def test_a_killed_manager_ends_every_worker(long_run, port, tmp_path):
    # its connections close with its process: the workers do not wait out the peer timeout
    manager, workers = distributed(long_run, port, tmp_path, "--peer-timeout", "60")
    wait_for(tmp_path / "long_base" / "market_meta.csv", manager)
    manager.send_signal(signal.SIGKILL)
    manager.communicate()
    for worker in workers:
        code, errors, took = finish(worker, within=30)
        assert code != 0
        assert f"the manager at 127.0.0.1:{port} closed its connection during the run" in errors
        assert took < 20


def test_a_manager_that_stops_answering_is_given_up_after_the_peer_timeout(
    long_run, port, tmp_path
):
    # stopped, not ended: its connections stay open, so only its silent heartbeat tells
    manager, workers = distributed(long_run, port, tmp_path)
    wait_for(tmp_path / "long_base" / "market_meta.csv", manager)
    manager.send_signal(signal.SIGSTOP)
    try:
        for worker in workers:
            code, errors, _ = finish(worker, within=30)
            assert code != 0
            assert f"the manager at 127.0.0.1:{port} has not been heard for 3 s" in errors
            assert "closed its connection" not in errors
    finally:
        manager.kill()
        manager.communicate()


def test_sigterm_on_the_manager_stops_workers_and_flushes(long_run, port, tmp_path):
    manager, workers = distributed(long_run, port, tmp_path)
    meta = tmp_path / "long_base" / "market_meta.csv"
    wait_for(meta, manager)
    manager.send_signal(signal.SIGTERM)
    code, errors, _ = finish(manager, within=60)
    assert code == 130
    assert "results computed so far were written" in errors
    written = rows(meta)
    assert written >= 48
    dispatch = tmp_path / "long_base" / "unit_dispatch.csv"
    assert rows(dispatch) > 0
    for worker in workers:
        code, errors, _ = finish(worker, within=30)
        assert code != 0 and "the manager was interrupted" in errors


def test_a_worker_without_manager_gives_up_naming_it(port):
    worker = start(
        "--config",
        str(ROOT / "config.yaml"),
        "--role",
        "worker",
        "--workers",
        "2",
        "--worker-index",
        "0",
        "--manager",
        f"127.0.0.1:{port}",
        "--connect-timeout",
        "2",
    )
    code, errors, took = finish(worker, within=60)
    assert code == 1
    assert f"waited 2 s for the manager at 127.0.0.1:{port}; it did not answer" in errors
    assert took < 30


def test_a_manager_without_workers_gives_up_naming_them(port, tmp_path):
    manager = start(
        "--config",
        str(ROOT / "config.yaml"),
        "--role",
        "manager",
        "--workers",
        "2",
        "--port",
        str(port),
        "--connect-timeout",
        "2",
        "-csv",
        str(tmp_path),
    )
    code, errors, took = finish(manager, within=60)
    assert code == 1
    assert "worker(s) 0, 1 did not join" in errors
    assert took < 30


def test_a_worker_with_the_wrong_token_is_refused(port, tmp_path):
    config = ["--config", str(ROOT / "config.yaml"), "--workers", "1", "--connect-timeout", "5"]
    manager = start(
        *config,
        "--role",
        "manager",
        "--port",
        str(port),
        "--token",
        "s3cret",
        "-csv",
        str(tmp_path),
    )
    intruder = start(
        *config,
        "--role",
        "worker",
        "--worker-index",
        "0",
        "--manager",
        f"127.0.0.1:{port}",
        "--token",
        "guess",
    )
    code, errors, _ = finish(intruder, within=60)
    assert code == 1 and "the manager refused worker 0: wrong or missing token" in errors
    code, errors, _ = finish(manager, within=60)
    assert code == 1
    assert "refused worker 0" in errors and "wrong or missing token" in errors


def _children(pid: int) -> dict[str, int]:
    """Names (as ps shows them) and pids of a process's children."""
    children = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            children[Path(f"/proc/{child}/comm").read_text().strip()] = int(child)
    return children


@pytest.mark.skipif(not Path("/proc/self/comm").exists(), reason="needs Linux's /proc")
def test_a_killed_parallel_worker_stops_the_run_at_once(long_run, port, tmp_path):
    """With -p the manager watches its worker processes: a killed one ends the run without
    waiting for the peer timeout (here a minute)."""
    manager = start(
        *("-s", "long", "-i", str(long_run), "-p", "--workers", "2", "--port", str(port)),
        *("--peer-timeout", "60", "-csv", str(tmp_path)),
    )
    meta = tmp_path / "long_base" / "market_meta.csv"
    wait_for(meta, manager)
    children = _children(manager.pid)
    assert {"assume-worker0", "assume-worker1", "assume-output"} <= set(children)
    killed = time.monotonic()
    subprocess.run(["kill", "-KILL", str(children["assume-worker1"])], check=True)
    code, errors, _ = finish(manager, within=60)
    assert code == 1
    assert time.monotonic() - killed < 30
    assert "worker 1 (process" in errors and "was killed by signal 9" in errors
    assert rows(meta) >= 48


# -- assume -p: the worker processes and the output writer are the manager's children -----


def child_named(parent: int, name: str, timeout: float = 30) -> int:
    """The pid of ``parent``'s child process called ``name`` (Linux: /proc)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                parent_pid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                if parent_pid == parent and (entry / "comm").read_text().strip() == name:
                    return int(entry.name)
            except (OSError, ValueError, IndexError):
                continue  # ended meanwhile
        time.sleep(0.05)  # poll: the process may not have named itself yet
    raise AssertionError(f"no child process {name} of {parent}")


def parallel(long_run, out, port: int = 0):
    return start(
        *["-s", "long", "-i", str(long_run), "-csv", str(out)],
        *["-p", "--workers", "2", "--port", str(port), "--peer-timeout", "3"],
    )


needs_proc = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")


def parallel_stopped(long_run, out, stop) -> tuple[int, str]:
    """Exit code and log of an ``assume -p`` run that ``stop(manager)`` interrupts once its
    first results are on disk."""
    manager = parallel(long_run, out)
    wait_for(out / "long_base" / "market_meta.csv", manager)
    stop(manager)
    code, errors, _ = finish(manager, within=60)
    return code, errors


def kill_child(name: str):
    return lambda manager: os.kill(child_named(manager.pid, name), signal.SIGKILL)


@needs_proc
def test_parallel_a_killed_worker_is_named_and_the_others_report_to_the_end(long_run, tmp_path):
    code, errors = parallel_stopped(long_run, tmp_path, kill_child("assume-worker1"))
    assert code == 1
    # the error is the killed worker, not that the workers ended with it
    assert "worker 1 (process" in errors and "was killed by signal 9" in errors
    assert "worker process(es) failed" not in errors
    stopped = re.search(r"stopped early at (\S+ \d\d:\d\d:\d\d)", errors).group(1)
    survivors = re.search(r"worker 0 joined with operators (.*)", errors).group(1).split(", ")
    # the surviving worker's operators reported their dispatch up to the stop
    assert last_dispatch(long_run, tmp_path, survivors) == dict.fromkeys(survivors, stopped)


@needs_proc
def test_parallel_sigterm_is_an_interruption_not_a_worker_failure(long_run, tmp_path):
    code, errors = parallel_stopped(long_run, tmp_path, lambda m: m.send_signal(signal.SIGTERM))
    assert code == 130
    assert errors.rstrip().endswith("assume: interrupted; results computed so far were written")
    assert "worker process(es) failed" not in errors


@needs_proc
def test_parallel_a_killed_output_writer_stops_the_workers_and_says_so(long_run, tmp_path):
    code, errors = parallel_stopped(long_run, tmp_path, kill_child("assume-output"))
    assert code != 0
    last = errors.rstrip().splitlines()[-1]
    # (it may first say which table it could not hand over)
    assert last.startswith("assume: error: output writer: ")
    assert "the writer process ended (exit code -9)" in last
    # the workers were told, and did not wait out the peer timeout
    assert errors.count("the manager stopped the run: AssumeError: output writer") == 2
    assert "has not been heard" not in errors


def test_a_taken_port_is_a_clear_error(long_run, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        manager = parallel(long_run, tmp_path, port=port)
        code, errors, _ = finish(manager, within=60)
    assert code == 2
    assert errors.strip().splitlines()[-1] == (
        f"assume: error: cannot listen on 127.0.0.1:{port}: Address already in use (is another "
        "run or program using the port? --port chooses another, --port 0 any free one)"
    )


@pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="Linux drops attempts beyond a full queue"
)
def test_a_manager_that_never_accepts_is_given_up_after_the_connect_timeout():
    # a listener whose queue of connections is full: the system drops further attempts, and
    # a connect would wait for minutes
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(0)
        port = server.getsockname()[1]
        fillers = [socket.socket() for _ in range(8)]
        for filler in fillers:
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", port))
        worker = start(
            *["--config", str(ROOT / "config.yaml"), "--role", "worker", "--workers", "2"],
            *["--worker-index", "0", "--manager", f"127.0.0.1:{port}", "--connect-timeout", "2"],
        )
        code, errors, _ = finish(worker, within=60)  # minutes without the timeout
        for filler in fillers:
            filler.close()
    assert code == 1
    assert "no answer in 2 s" in errors
    assert f"worker 0 waited 2 s for the manager at 127.0.0.1:{port}" in errors


def test_a_worker_listening_on_every_interface_is_refused_with_the_reason():
    worker = start(
        *["--config", str(ROOT / "config.yaml"), "--role", "worker", "--workers", "2"],
        *["--worker-index", "0", "--host", "0.0.0.0"],
    )
    code, errors, _ = finish(worker, within=60)
    assert code == 2
    assert "a worker cannot listen on --host 0.0.0.0: the manager answers" in errors
