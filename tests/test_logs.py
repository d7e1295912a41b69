"""Tests of sharing log handlers with forked processes (assume.logs)."""

import logging
import multiprocessing
import subprocess
import sys

import pytest

from assume import logs


class Collect(logging.Handler):
    def __init__(self):
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def _log_and_exit(count: int) -> None:
    for number in range(count):
        logging.getLogger("assume.test").warning("child record %d", number)


@pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods(), reason="the system cannot fork"
)
def test_every_child_record_is_written_and_the_thread_ends():
    root = logging.getLogger()
    saved, level = root.handlers[:], root.level
    collect = Collect()
    root.handlers[:] = [collect]
    root.setLevel(logging.INFO)
    try:
        assert logs.share_with_children()
        (shared,) = root.handlers
        child = multiprocessing.get_context("fork").Process(target=_log_and_exit, args=(200,))
        child.start()
        child.join()
        assert child.exitcode == 0
        logging.getLogger("assume.test").warning("parent's last record")
        logs.stop_sharing()
        # everything the child logged just before it ended is written, in order, and then
        # this process's own last record, which went the same way
        expected = [f"child record {n}" for n in range(200)] + ["parent's last record"]
        assert collect.messages == expected
        assert not shared._receive_thread.is_alive()
        assert root.handlers == [collect]  # logging goes straight to the handler again
        logging.getLogger("assume.test").warning("after")
        assert collect.messages[-1] == "after"
    finally:
        root.handlers[:] = saved
        root.setLevel(level)


CHILD_KILLED_WITH_THE_LOCK = """
import logging, multiprocessing, os, signal, sys
from assume import logs

logging.basicConfig(level=logging.INFO, handlers=[logging.StreamHandler(sys.stdout)])
assert logs.share_with_children()
(shared,) = logging.getLogger().handlers

def die_holding_the_lock():
    shared.queue._wlock.acquire()
    os.kill(os.getpid(), signal.SIGKILL)

child = multiprocessing.get_context("fork").Process(target=die_holding_the_lock)
child.start()
child.join()
logs.stop_sharing()
logging.getLogger("assume.test").warning("after stop_sharing")
"""


@pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods(), reason="the system cannot fork"
)
def test_a_child_killed_while_it_held_the_queue_does_not_stop_the_parent_from_exiting():
    # the None that ends the thread cannot be sent: stop_sharing gives up after its bound,
    # and the exit does not wait for the queue's feeder thread either
    run = subprocess.run(
        [sys.executable, "-c", CHILD_KILLED_WITH_THE_LOCK],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert "after stop_sharing" in run.stdout
