"""``assume -p``: worker processes on this machine for a manager running in this process."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os

from assume import logs
from assume.distributed.settings import address_text
from assume.errors import PeerError

logger = logging.getLogger(__name__)


def name_process(name: str) -> None:
    """Show ``name`` (at most 15 characters) for this process in ps and top, where the system
    allows it (Linux); forked processes would otherwise all look like the manager."""
    try:
        with open("/proc/self/comm", "w") as comm:
            comm.write(name[:15])
    except OSError:
        pass


def _worker_main(argv: list[str], environ: dict[str, str], index: int) -> None:
    from assume.cli import main

    name_process(f"assume-worker{index}")

    os.environ.update(environ)
    # it loads the manager's files, whose warnings the manager has given
    raise SystemExit(main(argv, own_process=True, echo=True))  # the process ends with the run


class WorkerProcesses:
    """Starts one process per worker once the manager listens, and waits for all of them."""

    def __init__(self, args, settings):
        self.args = args
        self.settings = settings
        self.processes: list[multiprocessing.Process] = []

    def worker_argv(self, index: int, manager_addr) -> list[str]:
        args, settings = self.args, self.settings
        argv = [
            "--role",
            "worker",
            "--worker-index",
            str(index),
            "--workers",
            str(settings.workers),
        ]
        if args.scenario:
            argv += ["-s", args.scenario, "-i", args.input_path]
        elif args.config:
            argv += ["--config", args.config]
        if args.case_study:
            argv += ["-c", args.case_study]
        argv += ["-l", args.loglevel, "--no-progress"]
        if settings.transport == "mqtt":
            argv += ["--mqtt", f"{settings.broker_host}:{settings.broker_port}"]
            argv += self.broker_login_argv()
        else:
            argv += ["--manager", address_text(manager_addr)]
        if settings.token:
            argv += ["--token", settings.token]
        if settings.run_name:
            argv += ["--run-name", settings.run_name]
        argv += ["--connect-timeout", str(settings.connect_timeout)]
        argv += ["--peer-timeout", str(settings.peer_timeout)]
        return argv

    def broker_login_argv(self) -> list[str]:
        """The broker login options but the password (see :meth:`worker_environ`)."""
        settings = self.settings
        argv = ["--mqtt-username", settings.broker_username] if settings.broker_username else []
        if settings.broker_tls:
            argv.append("--mqtt-tls")
        for option in ("ca", "cert", "key"):
            path = getattr(settings, f"broker_{option}")
            if path:
                argv += [f"--mqtt-{option}", os.path.abspath(path)]
        return argv

    def worker_environ(self) -> dict[str, str]:
        """What a worker adds to its environment: the broker password, which would be
        visible to every user of the machine on a command line."""
        password = self.settings.broker_password
        return {"MQTT_PASSWORD": password} if password else {}

    def start(self, manager_addr, peer_gone=None) -> None:
        """Start the workers; ``peer_gone(reason, index)`` is called (in this event loop) when one
        ends with an error, so the manager stops at once instead of after a timeout."""
        # forked where possible, so that their log records reach this process's handlers
        forked = logs.share_with_children()
        context = multiprocessing.get_context("fork" if forked else "spawn")
        loop = asyncio.get_running_loop() if peer_gone is not None else None
        for index in range(self.settings.workers):
            process = context.Process(
                target=_worker_main,
                args=(self.worker_argv(index, manager_addr), self.worker_environ(), index),
                name=f"worker-{index}",
            )
            process.start()
            self.processes.append(process)
            if loop is not None:
                loop.add_reader(process.sentinel, self._ended, loop, index, process, peer_gone)

    @staticmethod
    def _ended(loop, index: int, process, peer_gone) -> None:
        loop.remove_reader(process.sentinel)
        process.join()
        if process.exitcode:
            how = (
                f"was killed by signal {-process.exitcode}"
                if process.exitcode < 0
                else f"exited with code {process.exitcode}"
            )
            peer_gone(f"worker {index} (process {process.pid}) {how}; its log says why", index)

    def wait(self, run_failed: bool = False) -> None:
        """Wait for every worker; a worker that failed is an error naming it. After a run
        that failed (``run_failed``), whose error names the cause, the workers' own ends
        (they are stopped with that error) are only logged."""
        failed = []
        for index, process in enumerate(self.processes):
            process.join(self.settings.peer_timeout + self.settings.connect_timeout)
            if process.is_alive():
                process.kill()
                process.join()
                failed.append(f"worker {index} (did not stop, killed)")
                if run_failed:
                    logger.warning("worker %d did not stop; it was killed", index)
            elif process.exitcode:
                failed.append(f"worker {index} (exit code {process.exitcode})")
                if run_failed and process.exitcode < 0:  # not stopped by the manager
                    logger.warning("worker %d was killed by signal %d", index, -process.exitcode)
        if failed and not run_failed:
            raise PeerError(f"worker process(es) failed: {', '.join(failed)}")
