"""Work done ahead, in the time a process would otherwise spend waiting.

A distributed worker waits at every step: for the markets to clear, for the clock, for the
slowest of the other workers. A strategy whose next computation does not depend on what it
waits for (a dynamic programme's value function depends on the price forecast, not on the
clearing) can hand that computation over as a job, a generator that yields between small
pieces of work and returns its result. The event loop made by :func:`new_event_loop` runs
queued jobs, a piece at a time, whenever it would otherwise block in ``select``, and looks for
input every :data:`SLICE` seconds: a message waits at most that long and one piece. Whoever
needs a job's result calls :meth:`Job.result`, which finishes the job on the spot if idle time
did not.

Nothing changes what is computed, only when: a job computes the same numbers whether idle time
or :meth:`Job.result` runs it. A process that is never idle (one process running the whole
simulation) runs every job at :meth:`Job.result`, as if there were no jobs. Jobs are not
simulation tasks and send no messages, so a worker is idle for the clock while its loop runs
them.
"""

from __future__ import annotations

import asyncio
import selectors
import time
import weakref
from collections import deque
from collections.abc import Generator

_PENDING = object()
# seconds of job pieces between two looks for input: a message waits at most this long plus
# one piece (a job should yield often enough that its pieces stay around a millisecond)
SLICE = 0.0005


class Job:
    """A computation run ahead in idle time; :meth:`result` returns (or raises) its outcome."""

    def __init__(self, steps: Generator):
        self._steps = steps
        self._outcome = _PENDING
        self._error: BaseException | None = None
        self._queue: deque | None = None

    @property
    def done(self) -> bool:
        """Whether the job has returned or raised."""
        return self._outcome is not _PENDING or self._error is not None

    @property
    def queued(self) -> bool:
        """Whether the job waits for a loop's idle time (else it runs only at :meth:`result`)."""
        return self._queue is not None

    def step(self) -> bool:
        """Run one piece of the job; False once it is done."""
        if self.done:
            return False
        try:
            next(self._steps)
        except StopIteration as stop:
            self._outcome = stop.value
        except Exception as error:  # kept for result(), where the strategy would have raised
            self._error = error
        except BaseException as error:  # Ctrl-C in a piece: the job is over, and so is the run
            self._error = error
            raise
        return not self.done

    def result(self):
        """The job's return value, computed now if idle time has not finished it."""
        self.cancel()
        while self.step():
            pass
        if self._error is not None:
            raise self._error
        return self._outcome

    def enqueue(self, queue: deque) -> None:
        """Wait in ``queue`` (an :class:`IdleTimeSelector`'s) for idle time."""
        self.cancel()  # in one queue at most once
        queue.append(self)
        self._queue = queue

    def cancel(self) -> None:
        """Take the job off its loop's queue (its result may still be asked for)."""
        if self._queue is not None:
            self._queue.remove(self)
            self._queue = None


def complete(steps: Generator):
    """Run a job's generator to its end now; its return value."""
    return Job(steps).result()


class IdleTimeSelector(selectors.DefaultSelector):
    """The event loop's selector: where the loop would wait for input or a timer, it runs
    queued jobs a piece at a time, polling for input every :data:`SLICE` seconds."""

    def __init__(self):
        super().__init__()
        self.jobs: deque[Job] = deque()
        self.seconds = 0.0  # spent on jobs' pieces
        self.finished = 0  # jobs that idle time finished

    def select(self, timeout: float | None = None):
        if not self.jobs or (timeout is not None and timeout <= 0):
            return super().select(timeout)
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.jobs:
            events = super().select(0)
            if events:
                return events
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                return []
            # pieces can be much shorter than a poll for input is worth: a slice of them
            stop = now + SLICE if deadline is None else min(now + SLICE, deadline)
            while self.jobs and time.monotonic() < stop:
                job = self.jobs[0]
                if not job.step():
                    job.cancel()
                    self.finished += 1
            self.seconds += time.monotonic() - now
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        return super().select(left)


_SELECTORS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def new_event_loop() -> asyncio.AbstractEventLoop:
    """An asyncio event loop that runs jobs in its idle time."""
    selector = IdleTimeSelector()
    loop = asyncio.SelectorEventLoop(selector)
    _SELECTORS[loop] = selector
    return loop


def done_ahead() -> tuple[float, int]:
    """Seconds the running loop has spent on jobs in its idle time, and the jobs it finished
    there ((0.0, 0) for a loop not made by :func:`new_event_loop`)."""
    selector = _SELECTORS.get(asyncio.get_running_loop())
    return (selector.seconds, selector.finished) if selector is not None else (0.0, 0)


def ahead(steps: Generator) -> Job:
    """Queue ``steps`` on the running event loop's idle time (if it has any, see
    :func:`new_event_loop`; otherwise it runs when its result is asked for)."""
    job = Job(steps)
    try:
        selector = _SELECTORS.get(asyncio.get_running_loop())
    except RuntimeError:  # no running loop: computed on demand
        selector = None
    if selector is not None:
        job.enqueue(selector.jobs)
    return job
