"""Where units operators run: balanced by their estimated work, an explicit assignment, and
private units a worker brings."""

import csv
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import yaml

from assume import MarketConfig, MarketProduct, World
from assume.distributed import settings
from assume.distributed.settings import assign_operators, default_workers

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "inputs" / "example_01"
COMMAND = [sys.executable, "-m", "assume", "-l", "INFO", "--no-progress"]


def test_minus_p_runs_one_worker_per_operator_but_no_more_than_cores(monkeypatch):
    monkeypatch.setattr(settings.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    assert [default_workers(n) for n in (0, 1, 2, 5)] == [1, 1, 2, 2]
    monkeypatch.setattr(settings.os, "sched_getaffinity", lambda pid: set(range(8)), raising=False)
    assert [default_workers(n) for n in (1, 5, 20)] == [1, 5, 8]


def test_operators_of_equal_work_go_round_robin_in_order_of_their_ids():
    operators = [f"op{i}" for i in (3, 1, 4, 0, 2)]
    assert assign_operators(operators, 2) == [["op0", "op2", "op4"], ["op1", "op3"]]
    same = {operator: 7.0 for operator in operators}
    assert assign_operators(operators, 2, same) == assign_operators(operators, 2)
    assert assign_operators(operators, 8)[5:] == [[], [], []]


def test_operators_are_balanced_by_their_work():
    work = {"a": 5.0, "b": 4.0, "c": 3.0, "d": 3.0, "e": 3.0}
    # the costliest first, each to the worker with the least work: 5+3 against 4+3+3
    assert assign_operators(list(work), 2, work) == [["a", "d"], ["b", "c", "e"]]
    # the same for every order of the ids given
    assert assign_operators(sorted(work, reverse=True), 2, work) == [["a", "d"], ["b", "c", "e"]]


def test_an_operator_of_fast_optimising_storages_weighs_more():
    """The work estimate -p balances by: with a week's foresight and 201 levels, a storage
    that fills in two hours would try four times the moves of one that fills in eight; its
    programme takes range maxima instead, which cost it about 1.5 times as much (measured:
    4.2 and 2.7 ms an opening), and both cost far more than a naive unit."""
    world = World()
    world.setup(
        start=0,
        end=3 * 86400,
        simulation_id="work",
        time_step="1h",
        bidding_params={"optimized_foresight": "168h", "soc_steps": 201},
    )
    world.add_market_operator("market")
    world.add_market(
        "market", MarketConfig("DAM", [MarketProduct(3600, 24, 86400)], opening_frequency=86400)
    )
    hours = {"fast": 2, "slow": 8}
    for name, duration in hours.items():
        world.add_unit_operator(name)
        world.add_unit(
            f"{name}_storage",
            "storage",
            name,
            {"max_power_charge": 10, "max_power_discharge": 10, "capacity": 10 * duration},
            bidding_strategies={"DAM": "storage_energy_optimized"},
        )
    world.add_unit_operator("naive")
    world.add_unit(
        "plant",
        "power_plant",
        "naive",
        {"max_power": 100, "fuel_type": "lignite", "efficiency": 0.4},
        series={"fuel_price": np.full(world.index.length, 5.0)},
        bidding_strategies={"DAM": "powerplant_energy_naive"},
    )
    fast, slow, naive = (world.operator_work(name) for name in ("fast", "slow", "naive"))
    assert naive < slow / 5
    assert 1.3 < (fast - naive) / (slow - naive) < 2.2


def run_all(commands: list[list[str]]) -> list[str]:
    processes = [subprocess.Popen(c, stderr=subprocess.PIPE, text=True) for c in commands]
    logs = []
    for process in processes:
        _, errors = process.communicate(timeout=300)
        assert process.returncode == 0, errors
        logs.append(errors)
    return logs


def table(folder: Path, name: str) -> list[dict]:
    with open(folder / f"{name}.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def distributed(config: Path, port: int, out: Path, private: Path | None = None) -> list[str]:
    common = ["--config", str(config), "--workers", "2"]
    worker = [*COMMAND, *common, "--role", "worker", "--manager", f"127.0.0.1:{port}"]
    private_args = ["--private", str(private)] if private else []
    return run_all(
        [
            [*COMMAND, *common, "--role", "manager", "--port", str(port), "-csv", str(out)],
            [*worker, "--worker-index", "0"],
            [*worker, "--worker-index", "1", *private_args],
        ]
    )


def scenario_config(tmp_path: Path, distributed_section: dict | None = None) -> Path:
    config = yaml.safe_load((EXAMPLE / "config.yaml").read_text())
    case = {"base": {**config["base"], "input_path": str(EXAMPLE)}}
    if distributed_section:
        case["distributed"] = distributed_section
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(case))
    return path


def test_explicit_assignment_in_the_config(tmp_path, port):
    assignment = {0: ["eom_de", "Operator 4"], 1: ["Operator 1", "Operator 2", "Operator 3"]}
    config = scenario_config(tmp_path, {"assignment": assignment})
    logs = distributed(config, port, tmp_path / "out")
    assert "worker 0 joined with operators eom_de, Operator 4" in logs[1]
    assert "worker 1 joined with operators Operator 1, Operator 2, Operator 3" in logs[2]


def test_workers_whose_scenarios_differ_are_told_so_before_the_run(tmp_path, port):
    """Workers place operators by the work of their units, each on its own: one whose unit
    table differs places them differently, and the manager stops before anything runs."""
    config = scenario_config(tmp_path)
    changed = tmp_path / "changed"
    shutil.copytree(EXAMPLE, changed / "example_01")
    units = changed / "example_01" / "powerplant_units.csv"
    units.write_text(units.read_text().replace(",,,Operator 2\n", ",,,Operator 4\n", 1))
    other = yaml.safe_load(config.read_text())
    other["base"]["input_path"] = str(changed / "example_01")
    (changed / "config.yaml").write_text(yaml.safe_dump(other))
    common = ["--workers", "2"]
    worker = [*COMMAND, *common, "--role", "worker", "--manager", f"127.0.0.1:{port}"]
    processes = [
        subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
        for command in (
            [*COMMAND, "--config", str(config), *common, "--role", "manager", "--port", str(port)],
            [*worker, "--config", str(config), "--worker-index", "0"],
            [*worker, "--config", str(changed / "config.yaml"), "--worker-index", "1"],
        )
    ]
    errors = [process.communicate(timeout=300)[1] for process in processes]
    assert processes[0].returncode != 0
    assert "placement of units operators does not add up" in errors[0]
    assert "not run by any worker: Operator 2, Operator 4" in errors[0]
    assert "run twice: Operator 1 (workers 0, 1); Operator 3 (workers 0, 1)" in errors[0]


def test_private_units_stay_on_their_worker(tmp_path, port):
    private = tmp_path / "private"
    private.mkdir()
    base = yaml.safe_load((EXAMPLE / "config.yaml").read_text())["base"]
    (private / "config.yaml").write_text(yaml.safe_dump({"mine": base}))
    (private / "powerplant_units.csv").write_text(
        "name,technology,bidding_EOM,fuel_type,max_power,efficiency,additional_cost,unit_operator\n"
        "secret_plant,hydro,powerplant_energy_naive,others,800,1,1.0,secret_operator\n"
    )
    config = scenario_config(tmp_path)
    distributed(config, port, tmp_path / "shared")
    logs = distributed(config, port + 1, tmp_path / "with_private", private=private)
    assert "secret_operator" in logs[2]
    shared = tmp_path / "shared" / "example_01_base"
    with_private = tmp_path / "with_private" / "example_01_base"
    orders = table(with_private, "market_orders")
    assert any(row["unit_id"] == "secret_plant" for row in orders)  # the manager sees orders
    for name in ("power_plant_meta", "unit_dispatch"):
        units = {row.get("index") or row.get("unit") for row in table(with_private, name)}
        assert "secret_plant" not in units and "nuclear_1" in units
    prices = [float(r["price"]) for r in table(shared, "market_meta")]
    cheaper = [float(r["price"]) for r in table(with_private, "market_meta")]
    assert sum(cheaper) < sum(prices)  # the private plant took part in the market
