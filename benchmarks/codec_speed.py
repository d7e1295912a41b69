"""Time per message of the network codec, for the messages a distributed run sends most.

    python benchmarks/codec_speed.py [--against REV] [--seconds 0.2]

Prints the frame size and the µs per encode and per decode of each message kind, in a
container's codec (:func:`assume.codec.make_codec` plus the clock's control types) and with
the metadata mango's TCP container adds. With ``--against REV``, the single-module codec
``assume/codec.py`` of git revision ``REV`` (the one before the split, say) is timed in the
same run, on the same messages, and the speed-up is printed next to it.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import timeit
from pathlib import Path

import numpy as np
from mango.messages.message import MangoMessage

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


MESSAGES = {
    "ClockQuery": ClockQuery(7),
    "ClockStatus": ClockStatus(1, 7, 12, 11, True, float(T0 + HOUR)),
    "Opening (1, 2)": Opening("EOM", T0, T0 + HOUR, np.array([[T0 + HOUR, T0 + 2 * HOUR]])),
    "OrderSubmission empty": OrderSubmission("EOM", T0, Orderbook.empty()),
    "OrderSubmission 10 rows": OrderSubmission("EOM", T0, ten_orders()),
    "OutputRows market_meta": OutputRows("market_meta", market_meta_row()),
}


def container_codec(module):
    """The codec of a distributed run's container, built from ``module``'s make_codec."""
    codec = module.make_codec()
    for message_type in CONTROL_TYPES:
        codec.register_message_type(message_type)
    return codec


def codec_module_at(revision: str):
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


def microseconds(call, seconds: float) -> float:
    """The best of five runs of ``call``, each about ``seconds`` long, in µs per call."""
    timer = timeit.Timer(call)
    number, _ = timer.autorange()
    number = max(1, int(number * seconds / 0.2))
    return min(timer.repeat(5, number)) / number * 1e6


def timings(codec, message, seconds: float) -> tuple[int, float, float]:
    """Frame bytes, µs per encode and µs per decode of ``message`` in a MangoMessage."""
    envelope = MangoMessage(message, dict(META))
    frame = codec.encode(envelope)
    return (
        len(frame),
        microseconds(lambda: codec.encode(envelope), seconds),
        microseconds(lambda: codec.decode(frame), seconds),
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", metavar="REV", help="also time assume/codec.py of REV")
    parser.add_argument("--seconds", type=float, default=0.2, help="length of one timing run")
    args = parser.parse_args(argv)

    import assume.codec

    codecs = {"now": container_codec(assume.codec)}
    if args.against:
        codecs[args.against] = container_codec(codec_module_at(args.against))
    header = f"{'message':<24} {'bytes':>6}"
    for name in codecs:
        header += f" {'encode µs':>10} {'decode µs':>10} [{name}]"
    if args.against:
        header += f" {'speed-up enc/dec':>17}"
    print(header)
    for kind, message in MESSAGES.items():
        results = [timings(codec, message, args.seconds) for codec in codecs.values()]
        line = f"{kind:<24} {results[0][0]:>6}"
        for _, encode, decode in results:
            line += f" {encode:>10.1f} {decode:>10.1f}" + " " * (len(name) + 3)
        if args.against:
            (_, encode, decode), (_, old_encode, old_decode) = results
            line += f" {old_encode / encode:>8.1f}x {old_decode / decode:>6.1f}x"
        print(line)


if __name__ == "__main__":
    main()
