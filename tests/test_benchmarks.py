"""The benchmark scripts on tiny scenarios: they run, and the scaling benchmark's check that
every worker count gives the one-process results holds and would see a difference."""

import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import assume

ROOT = Path(__file__).resolve().parents[1]


def benchmark_module(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_benchmark(name: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """``python benchmarks/NAME.py ARGS`` in a new process, its output captured."""
    command = [sys.executable, str(ROOT / "benchmarks" / f"{name}.py"), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout)


def test_scaling_gives_identical_results_for_every_worker_count(tmp_path):
    # 201 levels: the storages' programme takes range maxima (assume.strategies.storage_values)
    run = run_benchmark(
        "scaling",
        *("--storages", "4", "--plants", "2", "--operators", "2", "--days", "3"),
        *("--workers", "1", "2", "--foresight", "48h", "--soc-steps", "201"),
        *("--workdir", str(tmp_path), "--no-ceiling", "--split", "2"),
    )
    assert run.returncode == 0, run.stderr
    assert "storages per worker: 1: 4; 2: 2+2" in run.stdout
    # split by hand as -p splits: each part holds one worker's operators' units, and the demand
    held = []
    for number in (0, 1):
        part = tmp_path / "parts" / f"part_{number}"
        storages = (part / "storage_units.csv").read_text().splitlines()[1:]
        plants = (part / "powerplant_units.csv").read_text().splitlines()[1:]
        assert (len(storages), len(plants)) == (2, 1)  # one operator's units
        held.append({line.rsplit(",", 1)[1] for line in storages + plants})
        assert (part / "demand_units.csv").read_text() == (
            tmp_path / "inputs" / "scaling" / "demand_units.csv"
        ).read_text()
    assert sorted(held, key=min) == [{"Operator 1"}, {"Operator 2"}]
    (split,) = [line for line in run.stdout.splitlines() if line.startswith("| split by hand")]
    assert split.endswith("| own markets, not compared |")
    assert float(split.split("|")[2].strip().removesuffix(" s")) > 0
    rows = [line for line in run.stdout.splitlines() if line.startswith("| -p --workers")]
    assert len(rows) == 2
    # best, median of rounds, clock loop and its speed-up, CPU, cores
    assert all(row.count("|") == 10 for row in rows)
    assert all(row.endswith("| identical |") for row in rows)
    for row in rows:
        wall, _, _, loop, loop_speed_up, cpu, cores = row.split("|")[2:9]
        wall, loop = (float(cell.strip().removesuffix(" s")) for cell in (wall, loop))
        assert 0 < loop < wall and float(loop_speed_up.strip().removesuffix("x")) > 0
        assert float(cpu.strip().removesuffix(" s")) > 0 and float(cores) > 0
    config = (tmp_path / "inputs" / "scaling" / "config.yaml").read_text()
    assert "optimized_foresight: 48h" in config and "soc_steps: 201" in config
    orders = tmp_path / "results" / "workers_2_1" / "scaling_base" / "market_orders.csv"
    assert len(orders.read_text().splitlines()) > 1


def test_ceiling_runs_the_programme_in_one_and_in_several_processes(capsys):
    ceiling = benchmark_module("ceiling")
    assert ceiling.main(["--processes", "2", "--seconds", "0.05", "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    assert "2 processes at once do the same dynamic programme" in out
    assert "2 processes at once run the same plain Python loop" in out


def test_single_process_says_when_the_reference_python_lacks_assume_0_6():
    # this interpreter imports this project's assume, not assume-framework 0.6.0
    run = run_benchmark(
        "single_process",
        *("--plants", "4", "--operators", "2", "--days", "1", "--assume-python", sys.executable),
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert "assume (this project)" in run.stdout  # measured before the reference
    assert f"{sys.executable} imports assume from {Path(assume.__file__).parent}" in run.stderr
    assert "which is not ASSUME 0.6.0" in run.stderr


def test_large_runs_the_command_line_and_reports_time_and_peaks(tmp_path):
    run = run_benchmark(
        "large", *("--plants", "4", "--operators", "2", "--months", "1", "--workdir", str(tmp_path))
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert re.search(r"^\| 1 \| 744 \| [0-9.]+ s \| \d+ MB \|", run.stdout, re.MULTILINE), (
        run.stdout
    )
    assert "longest (1 months):" in run.stdout
    peaks = json.loads((tmp_path / "large_1m_peaks.json").read_text())
    assert peaks["main_kib"] > 0 and peaks["writer_kib"] > 0


def test_first_difference_names_the_table_and_line(tmp_path):
    common = benchmark_module("common")
    reference, other = tmp_path / "reference", tmp_path / "other"
    for folder in (reference, other):
        folder.mkdir()
        for table in common.RESULT_TABLES:
            (folder / f"{table}.csv").write_text("a,b\n1,2\n3,4\n")
    assert common.first_difference(reference, other) is None
    (other / "market_orders.csv").write_text("a,b\n1,2\n3,5\n")
    assert common.first_difference(reference, other) == "market_orders.csv differs from line 3"
    (other / "market_orders.csv").write_text("a,b\n1,2\n")
    assert common.first_difference(reference, other) == "market_orders.csv differs from line 3"
    (other / "unit_dispatch.csv").unlink()
    (other / "market_orders.csv").write_text("a,b\n1,2\n3,4\n")
    assert common.first_difference(reference, other) == "unit_dispatch.csv missing"


def test_generated_scenario_sets_strategy_parameters_only_when_asked(tmp_path):
    generate_scenario = benchmark_module("generate_scenario")
    plain = generate_scenario.generate(2, 1, 1, tmp_path, name="plain", storages=1)
    tuned = generate_scenario.generate(
        2, 1, 1, tmp_path, name="tuned", storages=1, optimized_foresight="168h", soc_steps=201
    )
    assert "bidding_strategy_params" not in (plain / "config.yaml").read_text()
    assert (
        (tuned / "config.yaml")
        .read_text()
        .endswith("  bidding_strategy_params:\n    optimized_foresight: 168h\n    soc_steps: 201\n")
    )
    for name in ("powerplant_units.csv", "storage_units.csv", "demand_df.csv"):
        assert (plain / name).read_bytes() == (tuned / name).read_bytes()


def test_machine_line_reports_the_speed_of_the_moment():
    common = benchmark_module("common")
    described, measured, imported = common.machine().splitlines()
    assert imported == f"assume measured: {Path(assume.__file__).parent}"
    assert described.startswith("machine: ") and "numpy" in described
    found = re.fullmatch(
        r"speed now: Python (\d+) ns per loop step, numpy ([0-9.]+) µs per call"
        r", loopback TCP round trip (\d+) µs",
        measured,
    )
    assert found is not None, measured
    assert all(float(figure) > 0 for figure in found.groups())


def test_instruction_counts_per_step_come_from_two_horizons(tmp_path):
    if shutil.which("valgrind") is None:
        pytest.skip("valgrind is not installed (apt-get install valgrind)")
    run = run_benchmark(
        "instructions",
        *("--plants", "4", "--operators", "2", "--days", "1", "2", "--workdir", str(tmp_path)),
        timeout=600,
    )
    # every message keeps the run's whole output: a failure seen once in a full suite run
    # (session 9) could not be explained for want of it
    output = f"stdout:\n{run.stdout}\nstderr:\n{run.stderr}"
    assert run.returncode == 0, output
    rows = re.findall(r"^\| (\d) \| (\d+) \| ([0-9,]+) \|$", run.stdout, re.MULTILINE)
    assert [(days, steps) for days, steps, _ in rows] == [("1", "23"), ("2", "47")], output
    first, second = (int(count.replace(",", "")) for _, _, count in rows)
    per_step = re.search(r"^per clock step: ([0-9,]+) instructions", run.stdout, re.MULTILINE)
    assert per_step is not None, output
    assert int(per_step.group(1).replace(",", "")) == round((second - first) / 24), output
