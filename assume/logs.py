"""Logging: one ``assume`` logger hierarchy, every record naming its process.

With ``assume -p`` the worker processes are forked after :func:`share_with_children` has
wrapped the handlers in multiprocessing-logging's handler, so their
records travel to this process's handlers: one log, and no process opens (or truncates)
the log file but this one.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
from collections.abc import Iterator

import multiprocessing_logging

FORMAT = "%(asctime)s %(processName)s %(name)s %(levelname)s: %(message)s"


def configure(level: str, log_file: str | None = None) -> None:
    """Log to stderr (and append to ``log_file``); a no-op if logging is already set up,
    as in a forked worker whose records go to its parent."""
    root = logging.getLogger()
    if root.handlers:
        return
    handlers: list[logging.Handler] = [logging.StreamHandler()]
    if log_file:
        handlers.append(logging.FileHandler(log_file, mode="a", encoding="utf-8"))
    logging.basicConfig(level=level, format=FORMAT, handlers=handlers)
    # mango logs every agent start and stop at INFO; keep it for DEBUG only
    logging.getLogger("mango").setLevel(max(logging.getLevelName(level), logging.WARNING))


class ChildRecords(multiprocessing_logging.MultiProcessingHandler):
    """multiprocessing-logging's handler, whose thread writes the records of forked processes
    until a None comes through the queue (:func:`stop_sharing`). The library's thread polls
    the queue every 0.2 s to see whether it was closed, so ending it took up to that long."""

    def _receive(self) -> None:
        while True:
            try:
                record = self.queue.get()
            except (EOFError, OSError):
                break  # the queue is gone
            if record is None:
                break
            self.sub_handler.emit(record)  # a handler reports its own errors (handleError)
        self.queue.close()
        self.queue.join_thread()

    def stop(self) -> None:
        """Write the records sent so far (the children's are in the pipe already once they
        have ended) and end the thread."""
        # a child killed while it held the queue's lock would leave the None unsent: then
        # neither this wait nor the exit may wait for it forever
        self.queue.cancel_join_thread()
        try:
            self.queue.put(None)
        except (ValueError, OSError):
            return  # the queue is closed: the thread has ended
        self._receive_thread.join(5.0)

    def close(self) -> None:
        """As the library's, but ending the thread at once (logging.shutdown, or a new
        logging configuration, may close the handler without :func:`stop_sharing`)."""
        if not self._is_closed:
            self._is_closed = True
            self.stop()
            self.sub_handler.close()
        logging.Handler.close(self)


def share_with_children() -> bool:
    """Route records of processes forked from now on to this process's handlers; False where
    processes cannot be forked (they then log to their own stderr)."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return False
    if multiprocessing.get_start_method(allow_none=True) != "fork":
        multiprocessing.set_start_method("fork", force=True)
    root = logging.getLogger()
    for number, handler in enumerate(list(root.handlers)):
        root.removeHandler(handler)
        root.addHandler(ChildRecords(f"mp-handler-{number}", sub_handler=handler))
    global _SHARED_BY
    _SHARED_BY = os.getpid()
    return True


_SHARED_BY: int | None = None


def stop_sharing() -> None:
    """In the process that called :func:`share_with_children`, once the children have ended:
    write every record still on its way from them (and this process's own last ones, which go
    the same way) and log directly again. Without it, records logged just before the process
    exits can be lost: the thread that writes them is stopped at exit, possibly before it has
    written them."""
    global _SHARED_BY
    if _SHARED_BY != os.getpid():
        return
    _SHARED_BY = None
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, ChildRecords):
            root.removeHandler(handler)
            root.addHandler(handler.sub_handler)
            # the handler's own close would also close the stream or file below it
            handler._is_closed = True
            handler.stop()


@contextlib.contextmanager
def below(level: int) -> Iterator[None]:
    """Within the block, this process's handlers drop records under ``level`` (whatever logger
    logs them)."""

    def at_least(record: logging.LogRecord) -> bool:
        return record.levelno >= level

    handlers = list(logging.getLogger().handlers)
    for handler in handlers:
        handler.addFilter(at_least)
    try:
        yield
    finally:
        for handler in handlers:
            handler.removeFilter(at_least)
