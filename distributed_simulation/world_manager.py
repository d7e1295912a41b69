"""Run the manager of the example (markets, outputs, clock); workers join it.

python -m distributed_simulation.world_manager
"""

from __future__ import annotations

import logging
import sys

from assume.errors import AssumeError
from distributed_simulation import config


def main() -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(processName)s %(name)s %(levelname)s: %(message)s"
    )
    try:
        spec = config.scenario()
        settings = config.settings(spec, "manager")
        config.world(spec, "manager", settings).run()
    except AssumeError as error:
        sys.stderr.write(f"world_manager: error: {error}\n")  # one write per line
        return error.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
