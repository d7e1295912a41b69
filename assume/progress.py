"""A progress bar over simulation time, shown on terminals only."""

from __future__ import annotations

import sys

from assume.timeutil import format_datetime


class Progress:
    """Shows how far simulation time has advanced; off when not a terminal or when disabled."""

    def __init__(self, start: int, end: int, enabled: bool | None = None):
        if enabled is None:
            enabled = sys.stderr.isatty()
        self.start = start
        self.done = 0
        self.bar = None
        if enabled and end > start:
            # imported here: a run without a bar (not a terminal, --no-progress, -p's
            # workers) does not pay tqdm's import, 8 ms of every command
            from tqdm import tqdm

            self.bar = tqdm(total=end - start, unit="s sim", unit_scale=True, dynamic_ncols=True)

    def update(self, moment: int) -> None:
        if self.bar is None:
            return
        advanced = moment - self.start
        if advanced > self.done:
            self.bar.update(advanced - self.done)
            self.done = advanced
            self.bar.set_description(format_datetime(moment), refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
