"""Settings of a distributed run: transport, addresses, workers, token and timeouts."""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from assume.errors import ConfigurationError

MANAGER_CLIENT_ID = "assume_manager"
RUN_NAME = re.compile(r"[A-Za-z0-9_-]{0,32}")
WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", ""})
CLOCK_AGENT = "clock"


@dataclass
class DistributedSettings:
    """How the processes of a distributed simulation find and trust each other.

    ``transport`` is ``tcp`` (direct connections; the manager listens on manager_host:
    manager_port, each worker on host:port, port 0 = any free port) or ``mqtt`` (every
    process connects to the broker at broker_host:broker_port, as broker_username with
    broker_password if given, over TLS if broker_tls: with the system's CAs unless
    broker_ca names a CA file; broker_cert and broker_key are a client certificate).
    ``run_name`` sets this run's MQTT client ids and topics apart from other runs on the same
    broker (``assume -p`` picks one of its own when none is given)."""

    transport: str = "tcp"
    manager_host: str = "127.0.0.1"
    manager_port: int = 9010
    host: str = "127.0.0.1"
    port: int = 0
    broker_host: str = "127.0.0.1"
    broker_port: int = 1883
    broker_username: str | None = None
    broker_password: str | None = field(default=None, repr=False)
    broker_tls: bool = False
    broker_ca: str | None = None
    broker_cert: str | None = None
    broker_key: str | None = None
    workers: int = 1
    worker_index: int = 0
    operators: list[str] | None = None
    token: str = ""
    run_name: str = ""
    connect_timeout: float = 60.0
    peer_timeout: float = 30.0

    def __post_init__(self):
        if self.transport not in ("tcp", "mqtt"):
            raise ConfigurationError(
                f"distributed transport must be 'tcp' or 'mqtt', got {self.transport!r}"
            )
        if self.workers < 1:
            raise ConfigurationError(f"workers must be at least 1, got {self.workers}")
        if not 0 <= self.worker_index < self.workers:
            raise ConfigurationError(
                f"worker index {self.worker_index} outside 0..{self.workers - 1}"
            )
        if not RUN_NAME.fullmatch(self.run_name):
            raise ConfigurationError(
                f"run name {self.run_name!r}: use at most 32 letters, digits, '-' and '_'"
            )
        for name in ("connect_timeout", "peer_timeout"):
            if getattr(self, name) <= 0:
                raise ConfigurationError(f"{name} must be positive, got {getattr(self, name)}")
        if self.transport == "mqtt":
            self._check_broker_login()

    def _check_broker_login(self) -> None:
        if self.broker_password and not self.broker_username:
            raise ConfigurationError(
                "an MQTT password needs a user name: give --mqtt-username, MQTT_USERNAME or "
                "distributed.mqtt.username"
            )
        if self.broker_key and not self.broker_cert:
            raise ConfigurationError(
                "an MQTT client key needs its certificate: give --mqtt-cert or "
                "distributed.mqtt.cert"
            )
        files = (("ca", self.broker_ca), ("cert", self.broker_cert), ("key", self.broker_key))
        for option, path in files:
            if path and not Path(path).is_file():
                raise ConfigurationError(
                    f"MQTT TLS {option} file {path} does not exist (--mqtt-{option} or "
                    f"distributed.mqtt.{option})"
                )
        # a CA or a client certificate only makes sense over TLS
        if self.broker_ca or self.broker_cert:
            self.broker_tls = True

    @property
    def manager_protocol_addr(self):
        """The manager container's address as agents write it."""
        if self.transport == "tcp":
            return (self.manager_host, self.manager_port)
        return self.client_id("manager")

    def client_id(self, process: str) -> str:
        """The MQTT client id (and inbox topic) of ``process`` ("manager", "worker_0", ...)
        in this run."""
        if not self.run_name:
            return MANAGER_CLIENT_ID if process == "manager" else f"assume_{process}"
        return f"assume_{self.run_name}_{process}"

    def create_container(self, clock, manager: bool, name: str = ""):
        """A mango container for this process (the manager's or a worker's)."""
        from assume.codec import make_codec
        from assume.distributed.protocol import CONTROL_TYPES, Hello, Refused, Welcome
        from assume.distributed.transport import create_container

        codec = make_codec()
        for message_type in CONTROL_TYPES:
            codec.register_message_type(message_type)
        if self.transport == "tcp":
            address = (self.manager_host, self.manager_port) if manager else (self.host, self.port)
            if not manager and self.host in WILDCARD_HOSTS:
                # a worker's messages carry its address, and the manager answers there
                raise ConfigurationError(
                    f"a worker cannot listen on --host {self.host}: the manager answers the "
                    "address a worker listens on, so give one it can reach (this machine's "
                    "address on the manager's network, e.g. --host 10.0.0.6)"
                )
            # one connection per peer: messages between two containers keep their order
            container = create_container(
                "tcp", clock=clock, codec=codec, addr=address, tcp_max_connections_per_target=1
            )
            container.batching = True
            container.connect_timeout = min(self.connect_timeout, self.peer_timeout)
            container.before_joining = (Hello,) if manager else (Welcome, Refused)
            container.join_token = self.token
            return container
        from assume.distributed.mqtt import BrokerLogin

        process = "manager" if manager else f"worker_{self.worker_index}"
        client_id = name if name and not manager else self.client_id(process)
        login = BrokerLogin(
            self.broker_username,
            self.broker_password,
            self.broker_tls,
            self.broker_ca,
            self.broker_cert,
            self.broker_key,
        )
        container = create_container(
            "mqtt",
            clock=clock,
            codec=codec,
            broker=(self.broker_host, self.broker_port),
            client_id=client_id,
            login=login,
        )
        container.before_joining = (Hello,) if manager else (Welcome, Refused)
        container.join_token = self.token
        return container


def default_workers(operators: int) -> int:
    """Worker processes of ``assume -p`` without --workers: one per units operator, but no
    more than the processor cores this process may use. More processes than cores cannot
    bid faster, and every process more makes each clock step dearer (on 2 cores, 4.0 ms per
    step with 4 workers against 1.9 ms with 2; benchmarks/RESULTS.md)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # platforms without affinity masks
        cores = os.cpu_count() or 1
    return max(1, min(operators, cores))


def assign_operators(
    operator_ids: list[str], workers: int, work: dict[str, float] | None = None
) -> list[list[str]]:
    """Spread units operators over workers deterministically, so that each worker gets about
    the same ``work`` (an estimate per operator; without it, the same number of operators):
    the costliest operator first, each to the worker with the least work so far (the lowest
    index among equals). Operators of equal work go round robin in order of their ids. Each
    worker's operators are listed in order of their ids."""
    work = work or {}
    ordered = sorted(operator_ids, key=lambda o: (-work.get(o, 1.0), o))
    loads = [0.0] * workers
    assigned: list[list[str]] = [[] for _ in range(workers)]
    for operator in ordered:
        least = min(range(workers), key=lambda index: (loads[index], len(assigned[index]), index))
        assigned[least].append(operator)
        loads[least] += work.get(operator, 1.0)
    return [sorted(group) for group in assigned]


def address_text(protocol_addr) -> str:
    """A container's address as people write it: HOST:PORT over TCP, the client id over
    MQTT (the inverse of :func:`host_port`)."""
    if isinstance(protocol_addr, tuple | list) and len(protocol_addr) == 2:
        return f"{protocol_addr[0]}:{protocol_addr[1]}"
    return str(protocol_addr)


def host_port(text: str, default_port: int, what: str) -> tuple[str, int]:
    """``HOST[:PORT]`` as (host, port); ``what`` names the setting in errors."""
    host, _, port = str(text).rpartition(":")
    if not host:
        return str(text), default_port
    try:
        return host, int(port)
    except ValueError:
        raise ConfigurationError(f"{what}: expected HOST:PORT, got {text!r}") from None


def _tls_files(mqtt: dict, spec) -> dict:
    """The TLS files of the config's ``mqtt:`` section, relative to the config file."""
    folder = Path(spec.config_path).parent if getattr(spec, "config_path", None) else Path()
    return {
        f"broker_{option}": str(folder / str(mqtt[option]))
        for option in ("ca", "cert", "key")
        if mqtt.get(option)
    }


def _broker_login_from(args, values: dict) -> None:
    """The broker login options of the command line, over those of the config file and the
    environment."""
    for option in ("username", "password", "ca", "cert", "key"):
        given = getattr(args, f"mqtt_{option}")
        if given:
            values[f"broker_{option}"] = given
    if args.mqtt_tls:
        values["broker_tls"] = True


def settings_from(args, role: str, spec, environ) -> DistributedSettings:
    """Distributed settings from, in rising priority: the ``distributed:`` section of the
    scenario's config file, the environment, and the command line."""
    import yaml

    section = {}
    if spec is not None and spec.config_path is not None:
        with open(spec.config_path, encoding="utf-8") as handle:
            loaded = yaml.safe_load(handle) or {}
        section = loaded.get("distributed") or {}
    where = f"{getattr(spec, 'config_path', 'config.yaml')}: distributed"
    manager = section.get("manager") or {}
    mqtt = section.get("mqtt") or {}
    timeouts = section.get("timeouts") or {}
    values = {
        "transport": section.get("transport", "tcp"),
        "manager_host": manager.get("host", "127.0.0.1"),
        "manager_port": int(manager.get("port", 9010)),
        "broker_host": mqtt.get("broker", "127.0.0.1"),
        "broker_port": int(mqtt.get("port", 1883)),
        "broker_username": mqtt.get("username"),
        "broker_password": mqtt.get("password"),
        "broker_tls": bool(mqtt.get("tls", False)),
        **_tls_files(mqtt, spec),
        "token": section.get("token") or "",
        "connect_timeout": float(timeouts.get("connect", 60)),
        "peer_timeout": float(timeouts.get("peer", 30)),
    }
    workers = section.get("workers")
    if environ.get("MQTT_BROKER"):
        values["transport"] = "mqtt"
        values["broker_host"], values["broker_port"] = host_port(
            environ["MQTT_BROKER"], values["broker_port"], "MQTT_BROKER"
        )
    # TCP_HOST/TCP_PORT: where the manager listens, and so where workers connect to
    if environ.get("TCP_HOST"):
        values["manager_host"] = environ["TCP_HOST"]
    if environ.get("TCP_PORT"):
        values["manager_port"] = int(environ["TCP_PORT"])
    if environ.get("ASSUME_TOKEN"):
        values["token"] = environ["ASSUME_TOKEN"]
    for variable, key in (
        ("MQTT_USERNAME", "broker_username"),
        ("MQTT_PASSWORD", "broker_password"),
    ):
        if environ.get(variable):
            values[key] = environ[variable]
    if args.mqtt:
        values["transport"] = "mqtt"
        values["broker_host"], values["broker_port"] = host_port(
            args.mqtt, values["broker_port"], "--mqtt"
        )
    _broker_login_from(args, values)
    if args.manager:
        values["manager_host"], values["manager_port"] = host_port(
            args.manager, values["manager_port"], "--manager"
        )
    if args.host:
        values["manager_host" if role == "manager" else "host"] = args.host
    if args.port is not None:
        values["manager_port" if role == "manager" else "port"] = args.port
    if args.token:
        values["token"] = args.token
    values["run_name"] = str(section.get("run_name") or "")
    if environ.get("ASSUME_RUN_NAME"):
        values["run_name"] = environ["ASSUME_RUN_NAME"]
    if getattr(args, "run_name", None):
        values["run_name"] = args.run_name
    if (
        role == "manager"
        and args.parallel
        and values["transport"] == "mqtt"
        and not values["run_name"]
    ):
        # its own workers are told the name; other runs on the broker have other names
        # short: client ids within the 23 characters every MQTT 3.1.1 broker takes
        values["run_name"] = secrets.token_hex(3)
    if args.connect_timeout:
        values["connect_timeout"] = args.connect_timeout
    if args.peer_timeout:
        values["peer_timeout"] = args.peer_timeout
    if args.workers:
        workers = args.workers
    if workers is None:
        if role == "manager" and args.parallel:
            workers = default_workers(len({unit.operator for unit in spec.units}))
        else:
            raise ConfigurationError(
                f"{where}: how many workers? give --workers N or distributed.workers"
            )
    values["workers"] = int(workers)
    values["worker_index"] = int(args.worker_index or 0)
    assignment = section.get("assignment")
    if assignment is not None:
        # explicit placement: worker index -> list of units operators
        if not isinstance(assignment, dict) or not all(
            isinstance(ops, list) for ops in assignment.values()
        ):
            raise ConfigurationError(
                f"{where}.assignment: expected a mapping of worker index to a list of units "
                f"operators, got {assignment!r}"
            )
        placed = {int(index): [str(o) for o in ops] for index, ops in assignment.items()}
        if sorted(placed) != list(range(values["workers"])):
            raise ConfigurationError(
                f"{where}.assignment: expected workers 0..{values['workers'] - 1}, got "
                f"{sorted(placed)}"
            )
        operators = [o for ops in placed.values() for o in ops]
        every = sorted({unit.operator for unit in spec.units})
        if sorted(operators) != every:
            raise ConfigurationError(
                f"{where}.assignment: every units operator must be placed exactly once; "
                f"operators: {', '.join(every)}; placed: {', '.join(sorted(operators))}"
            )
        values["operators"] = placed[values["worker_index"]]
    if role == "worker" and args.worker_index is None:
        raise ConfigurationError("a worker needs --worker-index I (0..workers-1)")
    return DistributedSettings(**values)
