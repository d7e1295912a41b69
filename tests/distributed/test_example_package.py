"""The distributed_simulation example package and the commands of compose.yml, run as local
processes (no Docker engine runs here) against a local mosquitto or over TCP."""

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from assume.cli import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The default scenario in one process."""
    out = tmp_path_factory.mktemp("reference")
    assert main(["--config", str(ROOT / "config.yaml"), "-csv", str(out), "-l", "WARNING"]) == 0
    return out / "example_01_base"


def start(command: list[str], environment: dict) -> subprocess.Popen:
    env = {**os.environ, "LOG_LEVEL": "WARNING", **environment}
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def finish(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        _, errors = process.communicate(timeout=300)
        assert process.returncode == 0, errors


def test_compose_services_run_as_local_processes(mosquitto, reference, tmp_path, identical):
    compose = yaml.safe_load((ROOT / "compose.yml").read_text())
    services = {
        name: service
        for name, service in compose["services"].items()
        if "mqtt" in service.get("profiles", []) and "command" in service
    }
    assert set(services) == {"manager", "agent-0", "agent-1"}
    processes = []
    for service in services.values():
        environment = dict(service.get("environment", {}))
        assert environment["MQTT_BROKER"] == "mqtt-broker:1883"
        environment["MQTT_BROKER"] = mosquitto
        if "CSV_PATH" in environment:
            environment["CSV_PATH"] = str(tmp_path)
        command = shlex.split(service["command"])
        assert command[0] == "python"
        processes.append(start([sys.executable, *command[1:]], environment))
    finish(processes)
    identical(reference, tmp_path / "example_01_base")


def test_main_runs_manager_and_agents_in_one_terminal(reference, tmp_path, port, identical):
    run = start(
        [sys.executable, "-m", "distributed_simulation.main"],
        {"CSV_PATH": str(tmp_path), "TCP_PORT": str(port)},
    )
    finish([run])
    identical(reference, tmp_path / "example_01_base")


@pytest.mark.parametrize("agents_first", [True, False])
def test_manager_and_agents_in_separate_terminals(
    reference, tmp_path, port, identical, agents_first
):
    environment = {"CSV_PATH": str(tmp_path), "TCP_PORT": str(port)}
    manager = [sys.executable, "-m", "distributed_simulation.world_manager"]
    agents = [
        [sys.executable, "-m", "distributed_simulation.world_agent", str(i), "2"] for i in (0, 1)
    ]
    order = [*agents, manager] if agents_first else [manager, *agents]
    finish([start(command, environment) for command in order])
    identical(reference, tmp_path / "example_01_base")
