"""The manager's clock when a worker ends at a moment the real processes rarely hit: the
container's idle waits are replaced here to end it exactly then."""

import asyncio
from types import SimpleNamespace

import pytest
from mango.messages.message import AgentAddress

import assume.distributed.clock as clock_module
from assume.distributed.clock import ManagerClock
from assume.distributed.protocol import ClockQuery, ClockStatus
from assume.errors import PeerError
from assume.messaging import Link


class Outbox:
    """A batching container that keeps nothing (the workers answer in the test)."""

    batching = True

    def post(self, message, address, sender) -> None:
        pass

    async def flush(self) -> None:
        pass


def manager(workers: int) -> ManagerClock:
    clock = ManagerClock(workers, Link())
    clock.context = SimpleNamespace(_container=Outbox())
    clock.scheduler = SimpleNamespace(
        clock=SimpleNamespace(get_next_activity=lambda: None, set_time=lambda moment: None)
    )
    clock.members = {i: AgentAddress(("127.0.0.1", 9100 + i), "clock") for i in range(workers)}
    return clock


def answering(clock: ManagerClock) -> None:
    """Every member answers each query at once, balanced and idle."""
    broadcast = clock._broadcast

    async def and_answer(message, answer=True):
        await broadcast(message, answer)
        if isinstance(message, ClockQuery):
            for worker in list(clock.members):
                clock.handle_message(ClockStatus(worker, message.round, 0, 0, True), {})

    clock._broadcast = and_answer


def ending_at(monkeypatch, clock: ManagerClock, wait: int, worker: int) -> None:
    """Worker ``worker``'s process ends during the ``wait``-th idle wait of the manager."""
    waits = 0

    async def until_idle(container) -> None:
        nonlocal waits
        waits += 1
        await asyncio.sleep(0)
        if waits == wait:
            clock.peer_gone(f"worker {worker} (process 1) was killed by signal 9", worker)

    monkeypatch.setattr(clock_module, "until_idle", until_idle)


@pytest.mark.parametrize(
    "workers, wait",
    [
        (2, 2),  # after every worker answered, while the manager's own messages settle
        (1, 1),  # the only worker, before the question goes out: nobody is left to ask
    ],
)
def test_a_worker_that_ends_at_any_moment_of_a_step_stops_the_run_naming_it(
    monkeypatch, workers, wait
):
    async def step():
        clock = manager(workers)
        answering(clock)
        ending_at(monkeypatch, clock, wait, workers - 1)
        await clock.settle(5.0)

    with pytest.raises(PeerError, match=f"worker {workers - 1} .* was killed by signal 9"):
        asyncio.run(step())


def test_clock_agents_handle_messages_on_arrival_others_through_their_inbox(caplog):
    from assume.idle import hand_to

    handled = []

    def agent(on_arrival: bool):
        return SimpleNamespace(
            aid="a",
            handles_on_arrival=on_arrival,
            inbox=asyncio.Queue(),
            _dispatch_message=lambda content, meta: handled.append((content, dict(meta))),
        )

    ordinary, clock = agent(False), agent(True)
    hand_to(ordinary, "m1", {})
    assert handled == [] and ordinary.inbox.get_nowait() == (0, "m1", {})
    hand_to(clock, "m2", {})
    assert handled == [("m2", {"priority": 0})] and clock.inbox.empty()
    # behind a message still in the inbox, it waits its turn
    clock.inbox.put_nowait((0, "m3", {}))
    hand_to(clock, "m4", {})
    assert len(handled) == 1 and clock.inbox.qsize() == 2

    def broken(content, meta):
        raise RuntimeError("handler bug")

    failing = SimpleNamespace(
        aid="b", handles_on_arrival=True, inbox=asyncio.Queue(), _dispatch_message=broken
    )
    with caplog.at_level("ERROR"):
        hand_to(failing, "m5", {})
    assert "agent b failed on a str" in caplog.text


def test_workers_whose_connections_close_are_gone_until_the_run_is_over(caplog):
    async def run():
        clock = manager(3)
        clock._connection_lost(1, clock.members[1])
        with pytest.raises(PeerError, match=r"worker 1 \(at 127.0.0.1:9101\) closed its conn"):
            clock._raise_if_lost()
        # a second one while the run stops for the first: out too (its last reports would
        # otherwise be waited for until the peer timeout), and said
        clock._connection_lost(0, clock.members[0])
        assert sorted(clock.members) == [2] and sorted(clock.gone) == [0, 1]
        assert "worker 0 (at 127.0.0.1:9100) closed its connection" in caplog.text
        clock.forget_lost()
        await clock.stop()  # the run is over: the last worker leaving is expected
        clock._connection_lost(2, clock.members[2])
        assert sorted(clock.members) == [2]

    asyncio.run(run())
