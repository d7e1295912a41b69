"""Run one worker of the example: it hosts its share of the units operators.

    python -m distributed_simulation.world_agent INDEX COUNT [HOST:PORT]

INDEX is this worker's number (0..COUNT-1), COUNT the number of workers, HOST:PORT the
address this worker listens on with TCP (default 127.0.0.1 and a free port).
"""

from __future__ import annotations

import argparse
import logging
import sys

from assume.errors import AssumeError
from distributed_simulation import config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("index", type=int, help="this worker's index, 0..count-1")
    parser.add_argument("count", type=int, help="number of workers")
    parser.add_argument("address", nargs="?", help="own address HOST:PORT (TCP only)")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(processName)s %(name)s %(levelname)s: %(message)s"
    )
    try:
        spec = config.scenario()
        base = config.settings(spec, "worker")
        settings = config.worker_settings(base, args.index, args.count, args.address)
        config.world(spec, "worker", settings).run()
    except AssumeError as error:
        sys.stderr.write(f"world_agent {args.index}: error: {error}\n")  # one write per line
        return error.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
