"""Where units operators run: an explicit assignment, and private units a worker brings."""

import csv
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "inputs" / "example_01"
COMMAND = [sys.executable, "-m", "assume", "-l", "INFO", "--no-progress"]


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
