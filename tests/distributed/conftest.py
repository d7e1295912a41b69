"""A scenario with a day-ahead and an hourly market, storage and an exchange, and the means to
run it in one process and distributed (real processes, a real mosquitto)."""

import csv
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "inputs" / "example_02"
TABLES = ("market_meta", "market_orders", "market_dispatch", "unit_dispatch")


def _add_column(path: Path, name: str, value) -> None:
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    rows[0].append(name)
    for row in rows[1:]:
        row.append(value(row) if callable(value) else value)
    with open(path, "w", newline="") as handle:
        csv.writer(handle).writerows(rows)


@pytest.fixture(scope="session")
def multi_market(tmp_path_factory) -> Path:
    """example_02 (day-ahead, storage, exchange) plus an hourly market that the power plants and
    a second demand also trade on, run by the same market operator (one agent with two market
    roles); five days keep the runs short."""
    inputs = tmp_path_factory.mktemp("inputs")
    folder = inputs / "multi"
    shutil.copytree(EXAMPLE, folder)
    config = yaml.safe_load((folder / "config.yaml").read_text())
    case = dict(config["dam"])
    case["end_date"] = "2019-03-06 00:00"
    case["markets_config"] = dict(case["markets_config"])
    case["markets_config"]["EOM"] = {
        "operator": case["markets_config"]["DAM"]["operator"],
        "product_type": "energy",
        "products": [{"duration": "1h", "count": 1, "first_delivery": "1h"}],
        "opening_frequency": "1h",
        "opening_duration": "1h",
        "maximum_bid_volume": 100000,
        "market_mechanism": "pay_as_clear",
    }
    (folder / "config.yaml").write_text(yaml.safe_dump({"multi": case}))
    _add_column(folder / "powerplant_units.csv", "bidding_EOM", "powerplant_energy_naive")
    with open(folder / "demand_units.csv", newline="") as handle:
        rows = list(csv.reader(handle))
    rows[0].append("bidding_EOM")
    rows[1].append("")
    rows.append(
        ["intraday", "inflex_demand", "", "1000", "0", "3000", "intraday_de", "demand_energy_naive"]
    )
    with open(folder / "demand_units.csv", "w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    _add_column(
        folder / "demand_df.csv", "intraday", lambda row: str(150 + 50 * (int(row[0][11:13]) % 4))
    )
    return inputs


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory):
    """Our own mosquitto on a free loopback port (a test may stop and restart it)."""
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(binary).exists():
        pytest.skip("mosquitto is not installed (apt-get install mosquitto)")
    folder = tmp_path_factory.mktemp("mosquitto")
    port = free_port()
    conf = folder / "mosquitto.conf"
    # mosquitto's default otherwise (no set_tcp_nodelay), as most brokers run
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    process = subprocess.Popen([binary, "-c", str(conf)], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.skip(f"mosquitto did not start: {process.stderr.read().decode()[-500:]}")
            time.sleep(0.05)  # poll: waiting for the broker's socket to accept
    yield f"127.0.0.1:{port}"
    process.terminate()
    process.wait(10)


def _assume(*args, cwd=None, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "assume", "-l", "WARNING", "--no-progress", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
    )


@pytest.fixture
def assume_cli():
    """Run ``python -m assume ARGS`` in a new process."""
    return _assume


@pytest.fixture
def port():
    """A free TCP port on 127.0.0.1."""
    return free_port()


@pytest.fixture
def identical():
    """Assert that two result folders hold byte-identical market and dispatch tables."""

    def check(reference: Path, other: Path) -> None:
        for table in TABLES:
            expected = (reference / f"{table}.csv").read_bytes()
            assert len(expected.splitlines()) > 10, table
            assert (other / f"{table}.csv").read_bytes() == expected, f"{table} differs"

    return check
