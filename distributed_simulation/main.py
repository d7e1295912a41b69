"""Run the example's manager and all its workers as processes of this terminal.

    python -m distributed_simulation.main

Waits for every process and exits non-zero if any of them failed.
"""

from __future__ import annotations

import multiprocessing
import sys

from distributed_simulation import config


def _manager() -> None:
    from distributed_simulation.world_manager import main

    raise SystemExit(main())


def _agent(index: int, count: int) -> None:
    from distributed_simulation.world_agent import main

    raise SystemExit(main([str(index), str(count)]))


def main() -> int:
    spec = config.scenario()
    count = config.settings(spec, "manager").workers
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_manager, name="manager")]
    processes += [
        context.Process(target=_agent, args=(index, count), name=f"agent-{index}")
        for index in range(count)
    ]
    for process in processes:
        process.start()
    failed = []
    for process in processes:
        process.join()
        if process.exitcode:
            failed.append(f"{process.name} (exit code {process.exitcode})")
    if failed:
        print(f"distributed_simulation: failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
