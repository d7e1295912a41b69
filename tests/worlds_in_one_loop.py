"""Manager and workers as Worlds in one event loop, talking over real TCP sockets on 127.0.0.1
(shared by the distributed tests)."""

import asyncio

import numpy as np

from assume import MarketConfig, MarketProduct, World
from assume.distributed.settings import DistributedSettings

START = 1546300800  # 2019-01-01 00:00 UTC


def build(world: World, start=START, hours=24, step="1h", product=3600, real_time=False):
    end = start + hours * product
    world.setup(start, end, "roles", time_step=step, real_time=real_time, save_frequency_hours=None)
    world.add_market_operator("market_operator")
    world.add_market(
        "market_operator",
        MarketConfig(
            "EOM", [MarketProduct(product, 1, product)], product, product, maximum_bid_volume=1e5
        ),
    )
    for operator in ("north", "south", "consumers"):
        world.add_unit_operator(operator)
    for index, cost in enumerate((10, 20, 30, 40)):
        world.add_unit(
            f"plant_{index}",
            "power_plant",
            ("north", "south")[index % 2],
            {
                "max_power": 300,
                "min_power": 50,
                "additional_cost": cost,
                "ramp_up": 200,
                "ramp_down": 200,
            },
            bidding_strategies={"EOM": "powerplant_energy_naive"},
        )
    volume = -(400 + 300 * np.sin(np.arange(world.index.length) / 3))
    world.add_unit(
        "city",
        "demand",
        "consumers",
        {},
        series={"volume": volume},
        bidding_strategies={"EOM": "demand_energy_naive"},
    )
    return world


def settings(port, **values):
    return DistributedSettings(
        manager_port=port, workers=2, connect_timeout=20, peer_timeout=20, **values
    )


async def run_distributed(out, port, token="", network=None, **build_args):
    """The manager and two workers in this loop, over TCP on ``port`` (or as ``network``
    says: more settings, such as an MQTT broker)."""
    network = network or {}
    manager = build(
        World(
            export_csv_path=str(out),
            distributed_role=True,
            distributed=settings(port, token=token, **network),
        ),
        **build_args,
    )
    workers = [
        build(
            World(
                distributed_role=False,
                distributed=settings(port, worker_index=i, token=token, **network),
            ),
            **build_args,
        )
        for i in (0, 1)
    ]
    results = await asyncio.gather(*(w.async_run() for w in (*workers, manager)))
    return results
