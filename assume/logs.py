"""Logging: one ``assume`` logger hierarchy, every record naming its process.

With ``assume -p`` the worker processes are forked after
:func:`multiprocessing_logging.install_mp_handler` has wrapped the handlers, so their
records travel to this process's handlers: one log, and no process opens (or truncates)
the log file but this one.
"""

from __future__ import annotations

import logging
import multiprocessing
import os

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


def share_with_children() -> bool:
    """Route records of processes forked from now on to this process's handlers; False where
    processes cannot be forked (they then log to their own stderr)."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return False
    if multiprocessing.get_start_method(allow_none=True) != "fork":
        multiprocessing.set_start_method("fork", force=True)
    multiprocessing_logging.install_mp_handler()
    global _SHARED_BY
    _SHARED_BY = os.getpid()
    return True


_SHARED_BY: int | None = None


def stop_sharing() -> None:
    """In the process that called :func:`share_with_children`: write every record still on its
    way from the children (and this process's own last ones, which go the same way) and log
    directly again. Without it, records logged just before the process exits can be lost: the
    thread that writes them is stopped at exit, possibly before it has written them."""
    global _SHARED_BY
    if _SHARED_BY != os.getpid():
        return
    _SHARED_BY = None
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, multiprocessing_logging.MultiProcessingHandler):
            root.removeHandler(handler)
            root.addHandler(handler.sub_handler)
            # the handler's own close would also close the stream or file below it
            handler._is_closed = True
            # records still queued are written before the thread ends; with none left it may
            # be waiting out its 0.2 s poll on an empty queue, with nothing more to write
            handler._receive_thread.join(5.0 if handler.queue.qsize() else 0.05)
