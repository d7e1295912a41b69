"""Settings of the example: the top-level config.yaml, overridden by the environment.

Environment variables (as in compose.yml): ``MQTT_BROKER`` (host[:port]; switches to MQTT),
``MQTT_USERNAME`` / ``MQTT_PASSWORD`` (the broker login; TLS is set in the config file),
``TCP_HOST`` / ``TCP_PORT`` (the manager's address), ``DB_URI`` (results database),
``CSV_PATH`` (results folder), ``ASSUME_TOKEN`` (shared secret), ``CONFIG`` (another config
file), ``CASE`` (the study case; default the first).
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from assume.distributed.settings import DistributedSettings, host_port
from assume.scenario.build import build_world
from assume.scenario.loader import ScenarioSpec, load_config_file
from assume.world import World

PROJECT = Path(__file__).resolve().parents[1]
CONFIG = Path(os.environ.get("CONFIG", PROJECT / "config.yaml"))


class _NoArguments:
    """Command-line values are all absent: the config file and environment decide."""

    mqtt = manager = host = port = token = connect_timeout = peer_timeout = workers = None
    mqtt_username = mqtt_password = mqtt_ca = mqtt_cert = mqtt_key = None
    worker_index = None
    parallel = mqtt_tls = False


def scenario() -> ScenarioSpec:
    return load_config_file(CONFIG, os.environ.get("CASE") or None)


def settings(spec: ScenarioSpec, role: str) -> DistributedSettings:
    """The ``distributed:`` section of the config file with the environment's overrides."""
    from assume.distributed.settings import settings_from

    arguments = _NoArguments()
    if role == "worker":
        arguments.worker_index = 0
    return settings_from(arguments, role, spec, os.environ)


def world(spec: ScenarioSpec, role: str, distributed: DistributedSettings) -> World:
    """A World for one process of the example, built from the scenario."""
    world = World(
        export_csv_path=os.environ.get("CSV_PATH", "outputs") if role == "manager" else None,
        database_uri=os.environ.get("DB_URI") if role == "manager" else None,
        log_level=os.environ.get("LOG_LEVEL", "INFO"),
        distributed_role=role == "manager",
        distributed=distributed,
    )
    build_world(spec, world, progress=None if role == "manager" else False)
    return world


def worker_settings(base: DistributedSettings, index: int, count: int, address: str | None):
    """A worker's settings: its index, the worker count and its own address (host:port)."""
    values = {"worker_index": index, "workers": count}
    if address:
        values["host"], values["port"] = host_port(address, 0, "worker address")
    return replace(base, **values)
