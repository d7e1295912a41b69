"""The same scenario gives byte-identical results in one process and in every distributed mode."""

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
