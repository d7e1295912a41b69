"""The ``assume`` command line: run a scenario folder or the default config.yaml."""

from __future__ import annotations

import argparse
import contextlib
import gc
import logging
import os
import sys
from pathlib import Path

from assume import logs
from assume.errors import AssumeError

DEFAULT_CONFIG = "config.yaml"


def parser() -> argparse.ArgumentParser:
    cli = argparse.ArgumentParser(
        prog="assume",
        description=(
            "Run an electricity market simulation. Without --scenario, runs the study case of "
            f"./{DEFAULT_CONFIG} (the shipped default scenario when run from the project folder)."
        ),
    )
    cli.add_argument(
        "-s",
        "--scenario",
        help="scenario folder name inside --input-path (holding config.yaml and the CSV files)",
    )
    cli.add_argument(
        "-c",
        "--case-study",
        help="study case in the scenario's config.yaml (default: the first case)",
    )
    cli.add_argument(
        "-i",
        "--input-path",
        default="examples/inputs",
        help="folder that holds the scenario folders (default: %(default)s)",
    )
    cli.add_argument(
        "--config",
        help=f"a config.yaml to run instead of a scenario folder (default: ./{DEFAULT_CONFIG})",
    )
    cli.add_argument(
        "-csv",
        "--csv-path",
        dest="csv_path",
        help="write result tables as CSV to CSV_PATH/<simulation_id>/<table>.csv "
        "(default: outputs, when no --db-uri is given)",
    )
    cli.add_argument(
        "-db",
        "--db-uri",
        dest="db_uri",
        help="write result tables to a database: sqlite:///results.db or "
        "postgresql://user@host:5432/db (needs the [postgres] extra)",
    )
    cli.add_argument(
        "-l",
        "--loglevel",
        default="INFO",
        type=str.upper,
        choices=["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"],
        help="log level, in any case (default: %(default)s)",
    )
    cli.add_argument(
        "--log-file",
        help="also append the log to this file (with -p, the workers' records too)",
    )
    cli.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show a progress bar over simulation time (default: on when stderr is a terminal)",
    )
    group = cli.add_argument_group(
        "distributed simulation",
        "Run units operators in other processes or on other machines; results are the same as "
        "in one process. Settings also come from the distributed: section of the config file "
        "and from the environment (MQTT_BROKER, MQTT_USERNAME, MQTT_PASSWORD, TCP_HOST, TCP_PORT, "
        "ASSUME_TOKEN).",
    )
    group.add_argument(
        "-p",
        "--parallel",
        action="store_true",
        help="run the manager in this process and start worker processes on this machine",
    )
    group.add_argument(
        "--workers",
        type=int,
        help=(
            "number of worker processes (default with -p: one per units operator, at most "
            "one per processor core)"
        ),
    )
    group.add_argument(
        "--role",
        choices=["manager", "worker"],
        help="run one process of a distributed simulation whose other processes start elsewhere",
    )
    group.add_argument(
        "--manager",
        metavar="HOST:PORT",
        help="address of the manager, for workers (default 127.0.0.1:9010)",
    )
    group.add_argument("--worker-index", type=int, help="this worker's index, 0..workers-1")
    group.add_argument(
        "--private",
        metavar="CONFIG",
        help="worker only: a config.yaml or scenario folder with units that this worker adds "
        "under operators of their own; the manager sees only their orders",
    )
    group.add_argument(
        "--host", help="interface to listen on (default 127.0.0.1; expose others with care)"
    )
    group.add_argument(
        "--port",
        type=int,
        help="port to listen on (manager default 9010; worker default: any free port)",
    )
    group.add_argument(
        "--mqtt", metavar="HOST[:PORT]", help="talk through this MQTT broker instead of TCP"
    )
    group.add_argument("--mqtt-username", metavar="NAME", help="user name at the MQTT broker")
    group.add_argument(
        "--mqtt-password",
        metavar="PASSWORD",
        help="password at the MQTT broker; the environment variable MQTT_PASSWORD is safer "
        "(a command line is visible to every user of the machine)",
    )
    group.add_argument(
        "--mqtt-tls",
        action="store_true",
        help="connect to the MQTT broker over TLS, verified with the system's CAs",
    )
    group.add_argument(
        "--mqtt-ca",
        metavar="FILE",
        help="CA certificate(s) to verify the broker with (implies TLS)",
    )
    group.add_argument(
        "--mqtt-cert", metavar="FILE", help="client certificate for the MQTT broker (implies TLS)"
    )
    group.add_argument(
        "--mqtt-key", metavar="FILE", help="private key of --mqtt-cert, if not in the same file"
    )
    group.add_argument("--token", help="shared secret every worker must present when it joins")
    group.add_argument(
        "--run-name",
        metavar="NAME",
        help="sets this run's MQTT client ids and topics apart from other runs on the same "
        "broker (letters, digits, - and _; -p picks its own; or ASSUME_RUN_NAME)",
    )
    group.add_argument(
        "--connect-timeout", type=float, help="seconds to wait for the other side (default 60)"
    )
    group.add_argument(
        "--peer-timeout",
        type=float,
        help="seconds a peer may stay silent before the run stops (default 30)",
    )
    return cli


def run(args: argparse.Namespace, own_process: bool = False, echo: bool = False) -> dict:
    """Load the scenario named by ``args``, run it and return the run summary.

    ``own_process``: the process ends with this run (the command, a worker of ``-p``). Then
    everything built before the run (modules, scenario, world) is moved out of the garbage
    collector's sight (:func:`gc.freeze`): its full collections during the run, and the last
    one as the interpreter exits, skip those objects, and processes forked from it (the output
    writer, ``-p``'s workers) do not copy the memory pages a collection would touch: 0.03 to
    0.1 s of a command here (benchmarks/RESULTS.md, session 10). It is not done for a caller
    that goes on (tests, a script running several scenarios): frozen garbage is never
    collected.

    ``echo``: this process loads the same files as the process that started it, which has
    logged what they hold (a worker of ``-p``): the warnings and notes of loading and building
    are not logged again (errors are)."""
    from assume.scenario.build import add_private_units, build_world
    from assume.scenario.loader import load_config_file, load_scenario
    from assume.world import World

    with logs.below(logging.ERROR) if echo else contextlib.nullcontext():
        if args.scenario:
            spec = load_scenario(args.input_path, args.scenario, args.case_study)
        else:
            config = Path(args.config or DEFAULT_CONFIG)
            if not config.is_file():
                raise AssumeError(
                    f"no scenario given and no {config} here: name a scenario with "
                    "-s SCENARIO -i INPUT_PATH, or a config file with --config FILE"
                )
            spec = load_config_file(config, args.case_study)
        csv_path = args.csv_path
        if csv_path is None and args.db_uri is None:
            csv_path = "outputs"
        role = "manager" if args.parallel else args.role
        distributed = None
        if role is not None:
            from assume.distributed.settings import settings_from

            distributed = settings_from(args, role, spec, os.environ)
        world = World(
            export_csv_path=csv_path,
            database_uri=args.db_uri,
            log_level=args.loglevel,
            distributed_role=None if role is None else role == "manager",
            distributed=distributed,
        )
        build_world(spec, world, progress=args.progress if role != "worker" else False)
    if args.private:
        if role != "worker":
            raise AssumeError("--private units belong to a worker: use it with --role worker")
        private = Path(args.private)
        add_private_units(
            world, load_config_file(private / "config.yaml" if private.is_dir() else private)
        )
    if own_process:
        gc.freeze()
    if args.parallel:
        from assume.distributed.parallel import WorkerProcesses

        workers = WorkerProcesses(args, distributed)
        world.before_join = workers.start
        try:
            summary = world.run()
        except BaseException:
            workers.wait(run_failed=True)  # the run's own error says what went wrong
            raise
        workers.wait()
    else:
        summary = world.run()
    if role == "worker":
        return summary
    where = f"{csv_path}/{spec.simulation_id}/" if csv_path else ""
    if args.db_uri:
        where = f"{where} and {args.db_uri}" if where else args.db_uri
    steps = summary.get("steps", 0)
    logging.getLogger("assume").info(
        "simulation %s finished in %.2f s (%d clock steps in %.3f s, %.3f ms per step); "
        "results in %s",
        spec.simulation_id,
        summary["wall_time"],
        steps,
        summary.get("step_seconds", 0.0),
        1000 * summary.get("step_seconds", 0.0) / max(steps, 1),
        where,
    )
    return summary


def main(argv: list[str] | None = None, own_process: bool = False, echo: bool = False) -> int:
    """Run the command line ``argv`` (default: this process's arguments); the exit code.
    ``own_process``: the process ends with the command; ``echo``: it loads what its parent
    has loaded and reported (see :func:`run`)."""
    args = parser().parse_args(argv)
    logs.configure(args.loglevel, args.log_file)
    try:
        run(args, own_process, echo)
    except AssumeError as error:
        logs.stop_sharing()
        # one paragraph, whatever line breaks the message carries (e.g. a YAML parser's)
        # one write: workers of -p share the terminal and may fail at the same instant
        sys.stderr.write(f"assume: error: {' '.join(str(error).split())}\n")
        sys.stderr.flush()
        return error.exit_code
    except KeyboardInterrupt:
        logs.stop_sharing()
        sys.stderr.write("assume: interrupted; results computed so far were written\n")
        sys.stderr.flush()
        return 130
    finally:
        logs.stop_sharing()
    return 0


def command() -> int:
    """The ``assume`` command (console script and ``python -m assume``): :func:`main` in a
    process that ends with it."""
    return main(own_process=True)


if __name__ == "__main__":
    sys.exit(command())
