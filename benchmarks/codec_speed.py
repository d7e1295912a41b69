"""Time per message of the network codec, for the messages a distributed run sends most.

    python benchmarks/codec_speed.py [--against REV] [--rounds 20]

Prints the frame size and the µs per encode and per decode of each message kind, with a
container's codec (:func:`assume.codec.make_codec` plus the clock's control types) and the
metadata mango's TCP container adds. With ``--against REV``, the single-module codec
``assume/codec.py`` of git revision ``REV`` (any before the split into a package, such as
``81d96bc^``) is timed in the same run on the same messages, with the speed-up, and the
frames of both are compared byte for byte.
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import itertools
import subprocess
import sys
import tempfile
import timeit
from pathlib import Path
from types import ModuleType

import numpy as np
from mango.messages.message import MangoMessage

import assume.codec
from assume.distributed.protocol import CONTROL_TYPES, ClockQuery, ClockStatus
from assume.markets.orderbook import Orderbook
from assume.messages import Opening, OrderSubmission, OutputRows

T0 = 1546300800
HOUR = 3600
META = {"sender_id": "clock_agent", "sender_addr": ("127.0.0.1", 9010), "receiver_id": "clock"}


def ten_orders() -> Orderbook:
    return Orderbook.build(
        start=T0,
        end=T0 + HOUR,
        price=np.linspace(-10.0, 80.0, 10),
        volume=np.linspace(-500.0, 500.0, 10),
        unit_id=[f"unit_{i}" for i in range(10)],
    )


def market_meta_row() -> dict:
    """One row of the market_meta table, as the market role sends it."""
    start = np.array([T0], dtype="int64")
    columns = {
        "time": start.astype("datetime64[s]"),
        "product_start": start.astype("datetime64[s]"),
        "product_end": (start + HOUR).astype("datetime64[s]"),
        "market_id": np.full(1, "EOM"),
    }
    for name in ("supply_volume", "demand_volume", "price", "min_price", "max_price"):
        columns[name] = np.array([42.0])
    columns["node"] = np.full(1, "")
    return columns


def unit_dispatch_rows(units: int = 8, hours: int = 24) -> dict:
    """A units operator's daily unit_dispatch report (as Fleet.dispatch_columns builds it)."""
    rng = np.random.default_rng(0)
    steps = T0 + HOUR * np.arange(hours, dtype="int64")
    return {
        "time": np.tile(steps, units).astype("datetime64[s]"),
        "unit": np.repeat(np.array([f"storage_{i:02d}" for i in range(units)]), hours),
        "power": rng.normal(0.0, 300.0, units * hours),
        "energy_cashflow": rng.normal(0.0, 9000.0, units * hours),
        "energy_generation_costs": np.zeros(units * hours),
        "soc": rng.uniform(0.0, 1.0, units * hours),
    }


MESSAGES = {
    "ClockQuery": ClockQuery(7),
    "ClockStatus": ClockStatus(1, 7, 12, 11, True, float(T0 + HOUR)),
    "Opening (1, 2)": Opening("EOM", T0, T0 + HOUR, np.array([[T0 + HOUR, T0 + 2 * HOUR]])),
    "OrderSubmission empty": OrderSubmission("EOM", T0, Orderbook.empty()),
    "OrderSubmission 10 rows": OrderSubmission("EOM", T0, ten_orders()),
    "OutputRows market_meta": OutputRows("market_meta", market_meta_row()),
    "OutputRows unit_dispatch": OutputRows("unit_dispatch", unit_dispatch_rows()),
}


def container_codec(module: ModuleType):
    """The codec of a distributed run's container, built with ``module.make_codec``."""
    codec = module.make_codec()
    for message_type in CONTROL_TYPES:
        codec.register_message_type(message_type)
    return codec


def codec_module_at(revision: str) -> ModuleType:
    """``assume/codec.py`` as it was at ``revision``, imported under another name."""
    source = subprocess.run(
        ["git", "show", f"{revision}:assume/codec.py"],
        cwd=Path(__file__).resolve().parent,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    path = Path(tempfile.mkdtemp()) / "codec_before.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("codec_before", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


def per_call(call) -> tuple[timeit.Timer, int]:
    """A timer for ``call`` and a number of calls that takes about 0.05 s."""
    timer = timeit.Timer(call)
    number, took = timer.autorange()
    return timer, max(1, round(number * 0.05 / took))


def timings(codecs: list, message, rounds: int) -> list[tuple[bytes, float, float]]:
    """Per codec: the frame, µs per encode and µs per decode of ``message`` in a
    MangoMessage. The codecs take turns in each round, so that a busy moment of the machine
    slows them alike, and the best round of each counts."""
    envelope = MangoMessage(message, dict(META))
    frames = [codec.encode(envelope) for codec in codecs]
    # a codec keeps the text of the last content it encoded (for the same message to several
    # receivers): alternate two equal contents, so that every encode is a real one
    envelopes = itertools.cycle([envelope, MangoMessage(copy.copy(message), dict(META))])
    calls = [
        [
            per_call(lambda c=codec: c.encode(next(envelopes))),
            per_call(lambda c=codec, f=frame: c.decode(f)),
        ]
        for codec, frame in zip(codecs, frames, strict=True)
    ]
    best = [[float("inf"), float("inf")] for _ in codecs]
    for _ in range(rounds):
        for times, pair in zip(best, calls, strict=True):
            for i, (timer, number) in enumerate(pair):
                times[i] = min(times[i], timer.timeit(number) / number * 1e6)
    return [(frame, encode, decode) for frame, (encode, decode) in zip(frames, best, strict=True)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", metavar="REV", help="also time assume/codec.py of REV")
    parser.add_argument("--rounds", type=int, default=20, help="timing rounds per message")
    args = parser.parse_args(argv)

    codecs = [container_codec(assume.codec)]
    header = f"{'message':<24} {'bytes':>6} {'encode µs':>10} {'decode µs':>10}"
    if args.against:
        codecs.append(container_codec(codec_module_at(args.against)))
        header += f" | {args.against + ' enc':>12} {'dec':>6} | speed-up enc  dec | same frame"
    print(header)
    for kind, message in MESSAGES.items():
        results = timings(codecs, message, args.rounds)
        frame, encode, decode = results[0]
        line = f"{kind:<24} {len(frame):>6} {encode:>10.1f} {decode:>10.1f}"
        if args.against:
            old_frame, old_encode, old_decode = results[1]
            line += (
                f" | {old_encode:>12.1f} {old_decode:>6.1f} |"
                f" {old_encode / encode:>11.1f}x {old_decode / decode:>4.1f}x"
                f" | {'yes' if frame == old_frame else 'NO'}"
            )
        print(line)


if __name__ == "__main__":
    main()
