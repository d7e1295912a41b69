"""Manager and workers as Worlds in one event loop, talking over real TCP sockets on 127.0.0.1."""

import asyncio
import csv
import time

import pytest
from worlds_in_one_loop import build, run_distributed

from assume import World


def read(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_manager_and_workers_give_the_one_process_results(tmp_path, port, identical):
    build(World(export_csv_path=str(tmp_path / "single"))).run()
    results = asyncio.run(run_distributed(tmp_path / "distributed", port))
    identical(tmp_path / "single" / "roles", tmp_path / "distributed" / "roles")
    first, second, manager = results
    assert sorted(first["operators"] + second["operators"]) == ["consumers", "north", "south"]
    sent = manager["messages_sent"] + first["messages_sent"] + second["messages_sent"]
    handled = manager["messages_handled"] + first["messages_handled"] + second["messages_handled"]
    assert sent == handled


def test_real_time_with_workers(tmp_path, port):
    start = int(time.time())
    began = time.monotonic()
    asyncio.run(
        run_distributed(tmp_path, port, start=start, hours=3, step="1s", product=1, real_time=True)
    )
    # the last clearing happens at simulation time start + 3: not before 2 s of wall time
    assert time.monotonic() - began >= 2.0
    meta = read(tmp_path / "roles" / "market_meta.csv")
    assert len(meta) == 2 and all(float(row["supply_volume"]) > 0 for row in meta)


def test_a_lost_simulation_message_stops_the_run_naming_the_worker(tmp_path, port, monkeypatch):
    """One order submission vanishes between a worker and the manager (injected into the TCP
    container's batch): the clock's counts stay unbalanced and the run stops saying so."""
    from assume.distributed.transport import GuardedTCPContainer
    from assume.errors import PeerError
    from assume.messages import OrderSubmission

    post, dropped = GuardedTCPContainer.post, []

    def lossy_post(self, content, receiver_addr, sender_id=None):
        if isinstance(content, OrderSubmission) and sender_id == "north" and not dropped:
            dropped.append(content)
            return True
        return post(self, content, receiver_addr, sender_id)

    monkeypatch.setattr(GuardedTCPContainer, "post", lossy_post)
    with pytest.raises(
        PeerError, match=r"messages were lost: .*worker \d: .* the manager \d+ of \d+"
    ):
        asyncio.run(asyncio.wait_for(run_distributed(tmp_path, port), timeout=60))
    assert len(dropped) == 1
