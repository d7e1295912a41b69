"""End-to-end runs of the shipped example scenarios through the command line.

The expected prices and volumes are ASSUME 0.6.0's results on the same input folders
(its CSV output rounds to 5 significant digits, hence the tolerance)."""

import csv
import gc
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from assume.cli import main, parser

ROOT = Path(__file__).resolve().parents[1]
INPUTS = ROOT / "examples" / "inputs"


def meta_by_product(path):
    with open(path, newline="") as handle:
        return {row["product_start"]: row for row in csv.DictReader(handle)}


@pytest.mark.parametrize(
    "scenario, case, expected_rows, known",
    [
        (
            "example_01",
            "base",
            167,
            {
                "2019-01-01 01:00:00": (49.688, 4627.3),
                "2019-01-03 08:00:00": (47.464, 5527.4),
                "2019-01-04 12:00:00": (49.688, 6399.9),
                "2019-01-07 23:00:00": (37.75, 4885.3),
            },
        ),
        (
            "example_01",
            "pay_as_bid",
            167,
            {
                "2019-01-01 01:00:00": (25.0, 4627.3),
                "2019-01-03 08:00:00": (24.01, 5527.4),
                "2019-01-07 23:00:00": (16.42, 4885.3),
            },
        ),
        (
            "example_02",
            "dam_naive",
            312,
            {
                "2019-03-02 00:00:00": (49.064, 3536.2),
                "2019-03-06 08:00:00": (47.837, 5078.7),
                "2019-03-14 23:00:00": (48.899, 4175.0),
            },
        ),
    ],
)
def test_shipped_scenarios_give_assume_prices(tmp_path, scenario, case, expected_rows, known):
    code = main(
        ["-s", scenario, "-c", case, "-i", str(INPUTS), "-csv", str(tmp_path), "-l", "WARNING"]
    )
    assert code == 0
    meta = meta_by_product(tmp_path / f"{scenario}_{case}" / "market_meta.csv")
    assert len(meta) == expected_rows
    for start, (price, volume) in known.items():
        assert float(meta[start]["price"]) == pytest.approx(price, rel=1e-4)
        assert float(meta[start]["supply_volume"]) == pytest.approx(volume, rel=1e-4)


def test_configuration_errors_print_one_paragraph_and_exit_2(tmp_path, capsys):
    code = main(
        ["-s", "example_01", "-c", "no_such_case", "-i", str(INPUTS), "-csv", str(tmp_path)]
    )
    assert code == 2
    error = capsys.readouterr().err
    assert error.startswith("assume: error: ")
    assert "no_such_case" in error and "base" in error
    assert "Traceback" not in error


def test_default_config_runs_from_the_project_folder(tmp_path):
    """``assume`` with no scenario runs ./config.yaml; run through the installed console script."""
    script = shutil.which("assume")
    if script is None:
        pytest.skip("the console script 'assume' is not on PATH (package not installed)")
    shutil.copy(ROOT / "config.yaml", tmp_path / "config.yaml")
    shutil.copytree(INPUTS / "example_01", tmp_path / "examples" / "inputs" / "example_01")
    result = subprocess.run(
        [script, "-l", "WARNING", "--no-progress"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    meta = meta_by_product(tmp_path / "outputs" / "example_01_base" / "market_meta.csv")
    assert float(meta["2019-01-01 01:00:00"]["price"]) == pytest.approx(49.688, rel=1e-4)


def test_the_command_freezes_what_it_built_and_a_caller_keeps_collecting(tmp_path):
    """The command (a process that ends with the run) takes what it built before the run out of
    the garbage collector's sight; main() called by a program that goes on does not."""
    before = gc.get_freeze_count()
    run = ["-s", "example_01", "-i", str(INPUTS), "-l", "WARNING", "--no-progress"]
    assert main([*run, "-csv", str(tmp_path / "caller")]) == 0
    assert gc.get_freeze_count() == before
    try:
        assert main([*run, "-csv", str(tmp_path / "command")], own_process=True) == 0
        assert gc.get_freeze_count() > before
    finally:
        gc.unfreeze()  # this test process goes on
    for table in ("market_meta", "market_orders", "unit_dispatch"):
        caller, command = (
            (tmp_path / folder / "example_01_base" / f"{table}.csv").read_bytes()
            for folder in ("caller", "command")
        )
        assert caller == command


def test_python_dash_m_assume_help():
    result = subprocess.run(
        [sys.executable, "-m", "assume", "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0
    for option in (
        "--scenario",
        "--case-study",
        "--input-path",
        "--csv-path",
        "--db-uri",
        "--loglevel",
    ):
        assert option in result.stdout


def test_results_to_postgresql(postgres_database, tmp_path):
    """A whole run into a real PostgreSQL server (skips with the reason if none is reachable)."""
    code = main(
        ["-s", "example_01", "-i", str(INPUTS), "-db", postgres_database.uri, "-l", "WARNING"]
    )
    assert code == 0
    rows = postgres_database.query(
        "SELECT count(*), min(price), max(price) FROM market_meta "
        "WHERE simulation = 'example_01_base'"
    )
    assert rows[0][0] == 167
    prices = postgres_database.query(
        "SELECT price FROM market_meta WHERE product_start = '2019-01-01 01:00:00'"
    )
    assert prices[0][0] == pytest.approx(49.688, rel=1e-4)
    dispatch = postgres_database.query("SELECT count(DISTINCT time) FROM unit_dispatch")
    assert dispatch[0][0] == 169  # 2019-01-01 00:00 .. 2019-01-08 00:00, the last step included
    assert not (tmp_path / "outputs").exists()


def test_log_level_in_any_case(capsys):
    assert parser().parse_args(["-l", "warning"]).loglevel == "WARNING"
    assert parser().parse_args(["-l", "Debug"]).loglevel == "DEBUG"
    with pytest.raises(SystemExit) as stop:
        parser().parse_args(["-l", "loud"])
    assert stop.value.code == 2
    assert "invalid choice: 'LOUD'" in capsys.readouterr().err
