"""Per-unit arrays over the simulation index that keep in memory only the steps in use.

A :class:`Timeline` is an ``(units, steps)`` float64 array, as fleets and strategies index it,
stored step-major in an anonymous memory mapping: the values of one step lie together, so the
steps of a stretch of time fill whole pages. The kernel hands out a page when it is first
written (pages never written read as zeros and cost nothing), and :meth:`Timeline.release`
gives back the pages of steps that are no longer needed. A year of a thousand units then
holds, per array, the few days around the current step instead of 70 MB.

Nothing may read a released step: it reads as zero again. Fleets release only steps that
were reported to the output and lie further back than any unit model or strategy looks.
"""

from __future__ import annotations

import mmap

import numpy as np

_ITEM = 8  # bytes of one float64
# where the platform cannot give pages back, released steps stay in memory (still correct)
_DONTNEED = getattr(mmap, "MADV_DONTNEED", None)
# private anonymous mappings (Unix); elsewhere plain arrays, which keep every step
_PRIVATE = (
    mmap.MAP_PRIVATE | getattr(mmap, "MAP_ANONYMOUS", getattr(mmap, "MAP_ANON", 0))
    if hasattr(mmap, "MAP_PRIVATE")
    else None
)


class Timeline:
    """An ``(units, steps)`` array of zeros whose early steps can be given back to the system."""

    __slots__ = ("_map", "_poisoned", "_released", "array", "units")

    #: tests set this to overwrite released steps with NaN instead of giving back whole pages
    #: only, so that a read of any released step shows in the results
    poison = False

    def __init__(self, units: int, steps: int):
        self.units = units
        size = units * steps * _ITEM
        self._released = 0  # bytes from the start already given back
        self._poisoned = 0  # steps overwritten with NaN (see poison)
        if size == 0 or _PRIVATE is None:
            self._map = None
            data = np.zeros((steps, units))
        else:
            # anonymous and private (Python's default is shared, whose pages a release would
            # only unmap, keeping them in memory): zero-filled, each page allocated when
            # first written, and freed for good when released
            self._map = mmap.mmap(-1, size, flags=_PRIVATE)
            data = np.frombuffer(self._map, dtype=np.float64).reshape(steps, units)
        self.array = data.T

    def release(self, before: int) -> None:
        """Give back the memory of steps before ``before`` (whole pages only: a page that also
        holds a later step is kept)."""
        if Timeline.poison and before > self._poisoned:
            self.array[:, self._poisoned : before] = np.nan
            self._poisoned = before
            return
        if self._map is None or _DONTNEED is None:
            return
        end = before * self.units * _ITEM // mmap.PAGESIZE * mmap.PAGESIZE
        end = min(end, len(self._map) // mmap.PAGESIZE * mmap.PAGESIZE)
        if end > self._released:
            self._map.madvise(_DONTNEED, self._released, end - self._released)
            self._released = end
