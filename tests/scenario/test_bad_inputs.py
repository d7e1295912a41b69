"""Many malformed scenario folders: each gives a one-paragraph error naming the file and exits
with code 2, or (if the change happens to be valid) runs; nothing crashes with a traceback."""

import shutil
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assume.cli import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "inputs" / "example_01"
JUNK = st.sampled_from(
    [None, -1, 0, -1e9, "abc", "", [], {}, "2019-13-45 99:00", "1x", True, 1e308, "nan", [1, 2]]
)
CASE_KEYS = ["start_date", "end_date", "time_step", "save_frequency_hours", "markets_config"]
MARKET_KEYS = [
    "products",
    "opening_frequency",
    "opening_duration",
    "market_mechanism",
    "maximum_bid_volume",
    "maximum_bid_price",
    "operator",
]
CSV_FILES = ["powerplant_units.csv", "demand_units.csv", "demand_df.csv", "fuel_prices_df.csv"]
CELL_JUNK = st.sampled_from(["", "abc", "-5", "nan", "1e400", "n.a.", "2019-99-99", "x,y"])


def scenario(tmp: Path) -> Path:
    folder = tmp / "inputs" / "bad"
    if folder.exists():
        shutil.rmtree(folder)
    shutil.copytree(EXAMPLE, folder)
    config = yaml.safe_load((folder / "config.yaml").read_text())
    config["base"]["end_date"] = "2019-01-02 00:00"  # one day keeps valid variants quick
    (folder / "config.yaml").write_text(yaml.safe_dump({"base": config["base"]}))
    return folder


def run(folder: Path, tmp: Path, capsys) -> tuple[int, str]:
    code = main(["-s", "bad", "-i", str(folder.parent), "-csv", str(tmp / "out"), "-l", "ERROR"])
    return code, capsys.readouterr().err


def check(code: int, error: str) -> None:
    assert code in (0, 2), error
    assert "Traceback" not in error
    if code == 2:
        message = error.strip()
        assert message.startswith("assume: error: ") and "\n" not in message, message


# derandomized: CI runs the same examples every time (a failure is reproducible)
FUZZ = settings(
    max_examples=40,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@FUZZ
@given(key=st.sampled_from(CASE_KEYS), value=JUNK)
def test_junk_in_a_study_case(tmp_path, capsys, key, value):
    folder = scenario(tmp_path)
    config = yaml.safe_load((folder / "config.yaml").read_text())
    config["base"][key] = value
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    check(*run(folder, tmp_path, capsys))


@FUZZ
@given(key=st.sampled_from(MARKET_KEYS), value=JUNK)
def test_junk_in_a_market(tmp_path, capsys, key, value):
    folder = scenario(tmp_path)
    config = yaml.safe_load((folder / "config.yaml").read_text())
    config["base"]["markets_config"]["EOM"][key] = value
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    check(*run(folder, tmp_path, capsys))


@FUZZ
@given(
    name=st.sampled_from(CSV_FILES),
    row=st.integers(0, 5),
    column=st.integers(0, 12),
    cell=CELL_JUNK,
)
def test_junk_in_a_csv_cell(tmp_path, capsys, name, row, column, cell):
    folder = scenario(tmp_path)
    path = folder / name
    lines = path.read_text().splitlines()
    row = min(row, len(lines) - 1)
    cells = lines[row].split(",")
    cells[min(column, len(cells) - 1)] = cell
    lines[row] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")
    code, error = run(folder, tmp_path, capsys)
    check(code, error)
    if code == 2:
        # the file at fault, or the one a damaged name now points to (e.g. a renamed unit's
        # missing column in demand_df.csv)
        assert ".csv" in error or "config.yaml" in error, error


@pytest.mark.parametrize(
    "damage, named",
    [
        (lambda f: (f / "config.yaml").write_text(""), "config.yaml"),
        (lambda f: (f / "config.yaml").write_text("base: [unclosed"), "config.yaml"),
        (lambda f: (f / "powerplant_units.csv").write_text(""), "powerplant_units.csv"),
        (lambda f: (f / "demand_df.csv").unlink(), "demand_df.csv"),
        (lambda f: (f / "demand_units.csv").write_text("name,technology\n"), "demand_units.csv"),
        (
            lambda f: (f / "powerplant_units.csv").write_text(
                (f / "powerplant_units.csv").read_text().replace("powerplant_energy_naive", "magic")
            ),
            "magic",
        ),
        (
            lambda f: (f / "powerplant_units.csv").write_text(
                (f / "powerplant_units.csv").read_text()
                + "nuclear_1,nuclear,,uranium,0,1,0,1,0,,,X\n"
            ),
            "duplicate",
        ),
    ],
)
def test_damaged_files_are_named(tmp_path, capsys, damage, named):
    folder = scenario(tmp_path)
    damage(folder)
    code, error = run(folder, tmp_path, capsys)
    check(code, error)
    assert code == 2 and named in error
