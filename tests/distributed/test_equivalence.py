"""The same scenario gives byte-identical results in one process and in every distributed mode."""

import csv
import re
import shutil
import subprocess
import sys

import pytest

from assume.cli import main


@pytest.fixture(scope="module")
def single(multi_market, tmp_path_factory):
    out = tmp_path_factory.mktemp("single")
    assert main(["-s", "multi", "-i", str(multi_market), "-csv", str(out), "-l", "WARNING"]) == 0
    return out / "multi_multi"


def test_parallel_over_tcp(multi_market, single, tmp_path, assume_cli, identical):
    run = assume_cli(
        "-s",
        "multi",
        "-i",
        str(multi_market),
        "-p",
        "--workers",
        "2",
        "--port",
        "0",
        "-csv",
        str(tmp_path),
    )
    assert run.returncode == 0, run.stderr
    identical(single, tmp_path / "multi_multi")


def test_one_worker_per_operator_over_mqtt(
    multi_market, single, mosquitto, tmp_path, assume_cli, identical
):
    run = assume_cli(
        "-s", "multi", "-i", str(multi_market), "-p", "--mqtt", mosquitto, "-csv", str(tmp_path)
    )
    assert run.returncode == 0, run.stderr
    identical(single, tmp_path / "multi_multi")


def test_separate_manager_and_workers_in_either_start_order(
    multi_market, single, tmp_path, port, identical
):
    common = ["-s", "multi", "-i", str(multi_market), "--workers", "2", "--connect-timeout", "60"]
    command = [sys.executable, "-m", "assume", "-l", "WARNING", "--no-progress"]
    # a worker first, then the manager, then the other worker
    first = subprocess.Popen(
        [
            *command,
            *common,
            "--role",
            "worker",
            "--worker-index",
            "1",
            "--manager",
            f"127.0.0.1:{port}",
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    manager = subprocess.Popen(
        [*command, *common, "--role", "manager", "--port", str(port), "-csv", str(tmp_path)],
        stderr=subprocess.PIPE,
        text=True,
    )
    second = subprocess.Popen(
        [
            *command,
            *common,
            "--role",
            "worker",
            "--worker-index",
            "0",
            "--manager",
            f"127.0.0.1:{port}",
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    for process in (manager, first, second):
        _, errors = process.communicate(timeout=300)
        assert process.returncode == 0, errors
    identical(single, tmp_path / "multi_multi")


def test_optimising_strategies_planned_ahead_in_idle_time(
    multi_market, tmp_path, assume_cli, identical
):
    # the workers compute the next day-ahead opening's value functions while they wait for
    # the markets (assume.lookahead): what they bid must not change
    inputs = tmp_path / "inputs"
    shutil.copytree(multi_market, inputs)
    for name, optimized in (
        ("powerplant_units.csv", "powerplant_energy_optimized"),
        ("storage_units.csv", "storage_energy_optimized"),
    ):
        path = inputs / "multi" / name
        with open(path, newline="") as handle:
            rows = list(csv.reader(handle))
        column = rows[0].index("bidding_DAM")
        for row in rows[1:]:
            row[column] = optimized
        with open(path, "w", newline="") as handle:
            csv.writer(handle).writerows(rows)
    common = ["-s", "multi", "-i", str(inputs)]
    single = assume_cli(*common, "-csv", str(tmp_path / "single"))
    assert single.returncode == 0, single.stderr
    parallel = assume_cli(
        *common,
        "-p",
        "--workers",
        "2",
        "--port",
        "0",
        "-csv",
        str(tmp_path / "parallel"),
        "-l",
        "INFO",
    )
    assert parallel.returncode == 0, parallel.stderr
    # each worker (both hold units with an optimising strategy) finished jobs while it waited
    for worker in (0, 1):
        ahead = re.search(
            rf"worker {worker} used [\d.]+ s of CPU; it computed ahead .* \((\d+) jobs finished",
            parallel.stderr,
        )
        assert ahead and int(ahead.group(1)) > 0, parallel.stderr[-2000:]
    reference = tmp_path / "single" / "multi_multi"
    # the optimising strategies did bid on the day-ahead market: the storage and the plants
    with open(reference / "market_orders.csv", newline="") as handle:
        bidders = {row["unit_id"] for row in csv.DictReader(handle) if row["market_id"] == "DAM"}
    assert {"pumped_hydro", "nuclear_1", "lignite_1"} <= bidders
    identical(reference, tmp_path / "parallel" / "multi_multi")
