"""Jobs run ahead in an event loop's idle time: the loop still answers input and timers while
it runs them, and a job's result is the same whether idle time or the caller computed it."""

import asyncio
import threading

import pytest

from assume import lookahead
from assume.lookahead import Job, ahead, new_event_loop


def counting(steps: int, counter: list[int]):
    """A job of ``steps`` pieces that counts them and returns their sum."""
    total = 0
    for number in range(steps):
        counter[0] += 1
        total += number
        yield
    return total


# ends every endless job once a test gave up on its loop, so that no thread keeps running one
GIVE_UP = threading.Event()


def endless(counter: list[int], at: int = 0, signal=None):
    """A job that does not end (unless a test gave up); after ``at`` pieces it calls
    ``signal`` once."""
    while not GIVE_UP.is_set():
        counter[0] += 1
        if counter[0] == at and signal is not None:
            signal()
        yield


def run_in_loop(main, timeout: float = 60.0):
    """Run ``main()`` in a loop of :func:`new_event_loop` in a thread, failing instead of
    hanging if the loop never gets back to it (an endless job that blocked it)."""
    GIVE_UP.clear()
    outcome = {}

    def target():
        loop = new_event_loop()
        try:
            outcome["value"] = loop.run_until_complete(main())
        except BaseException as error:  # reported in the test's thread
            outcome["error"] = error
        finally:
            loop.close()

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        GIVE_UP.set()
        pytest.fail(f"the event loop did not get back to the test within {timeout} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


async def _done_ahead():
    return lookahead.done_ahead()


def test_without_idle_time_a_job_is_computed_when_its_result_is_asked_for():
    counter = [0]
    job = ahead(counting(5, counter))  # no running loop: nothing runs it ahead
    assert counter == [0] and not job.done and not job.queued
    assert asyncio.run(_done_ahead()) == (0.0, 0)  # a plain asyncio loop does no work ahead
    assert job.result() == 10
    assert counter == [5] and job.done
    assert job.result() == 10  # asked again: the same outcome, not computed twice
    assert counter == [5]


def test_idle_time_runs_a_queued_job_while_input_still_gets_through():
    counter = [0]

    async def main():
        loop = asyncio.get_running_loop()
        woken = loop.create_future()
        # the job itself wakes the loop from another thread's point of view: input arrives
        # while a job that never ends is queued
        job = ahead(
            endless(counter, 1000, lambda: loop.call_soon_threadsafe(woken.set_result, True))
        )
        assert await woken
        job.cancel()
        return counter[0]

    assert run_in_loop(main) >= 1000


def test_timers_fire_while_a_job_runs():
    counter = [0]

    async def main():
        job = ahead(endless(counter))
        # the loop waits for this timer in select, running the job, and still wakes for it
        await asyncio.sleep(0.05)
        job.cancel()
        return counter[0]

    assert run_in_loop(main) > 0


def test_a_job_finished_by_idle_time_gives_what_the_caller_would_have_computed():
    counter = [0]

    async def main():
        loop = asyncio.get_running_loop()
        finished = loop.create_future()

        def job_then_signal():
            value = yield from counting(50, counter)
            loop.call_soon_threadsafe(finished.set_result, None)
            return value

        job = ahead(job_then_signal())
        assert job.queued
        await finished
        # done, and off the queue: the loop blocks in select again instead of polling
        assert job.done and counter[0] == 50
        assert not job.queued and not lookahead._SELECTORS[loop].jobs
        seconds, finished = lookahead.done_ahead()
        assert seconds > 0 and finished == 1
        return job.result()

    assert run_in_loop(main) == Job(counting(50, [0])).result() == 1225
    assert counter[0] == 50  # result() did not run it again


def test_an_error_in_a_job_is_raised_where_its_result_is_asked_for():
    async def main():
        loop = asyncio.get_running_loop()
        failed = loop.create_future()

        def failing():
            yield
            loop.call_soon_threadsafe(failed.set_result, None)
            raise ValueError("no value function for this window")

        job = ahead(failing())
        await failed
        # the loop went on; the error waits for whoever needs the result
        assert job.done
        with pytest.raises(ValueError, match="no value function"):
            job.result()
        return True

    assert run_in_loop(main)


def test_a_cancelled_job_leaves_the_queue_and_can_still_be_computed():
    counter = [0]

    async def main():
        job = ahead(counting(3, counter))
        selector = lookahead._SELECTORS[asyncio.get_running_loop()]
        assert list(selector.jobs) == [job] and job.queued
        job.cancel()
        assert not selector.jobs and not job.queued
        await asyncio.sleep(0)
        return job

    job = run_in_loop(main)
    assert job.result() == 3 and counter == [3]


def test_ctrl_c_in_a_piece_ends_the_job_with_it():
    def interrupted():
        yield
        raise KeyboardInterrupt

    job = Job(interrupted())
    assert job.step()
    with pytest.raises(KeyboardInterrupt):
        job.step()
    assert job.done
    with pytest.raises(KeyboardInterrupt):
        job.result()  # not a None result from a dead generator
