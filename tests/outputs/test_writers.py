"""Tests of the output table writers against real files, SQLite and PostgreSQL."""

import csv
import datetime as dt
import sys
from pathlib import Path

import numpy as np
import pytest

from assume.errors import ConfigurationError
from assume.outputs.writers import CsvWriter, SqlWriter, open_writers


def read_csv(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as file:
        return list(csv.reader(file))


# --- CSV ---------------------------------------------------------------------------------


def test_csv_round_trips_floats_at_full_precision(tmp_path):
    values = np.array([0.1, 1 / 3, 1e-300, 123456789.12345679, -2.5e17, 7.0])
    writer = CsvWriter(tmp_path, "sim")
    writer.write("market_meta", {"price": values})
    writer.close()

    rows = read_csv(tmp_path / "sim" / "market_meta.csv")
    assert rows[0] == ["price"]
    assert [row[0] for row in rows[1:3]] == ["0.1", "0.3333333333333333"]
    assert [float(row[0]) for row in rows[1:]] == values.tolist()


def test_csv_writes_header_once_and_appends(tmp_path):
    writer = CsvWriter(tmp_path, "sim")
    writer.write("unit_dispatch", {"unit": ["a", "b"], "power": np.array([1.5, 2.0])})
    writer.write("unit_dispatch", {"unit": ["c"], "power": np.array([-3.0])})
    writer.close()

    assert read_csv(tmp_path / "sim" / "unit_dispatch.csv") == [
        ["unit", "power"],
        ["a", "1.5"],
        ["b", "2.0"],
        ["c", "-3.0"],
    ]


def test_csv_reorders_columns_to_the_first_write(tmp_path):
    writer = CsvWriter(tmp_path, "sim")
    writer.write("kpis", {"variable": ["avg_price"], "value": [41.5]})
    writer.write("kpis", {"value": [100.0], "variable": ["total_volume"]})
    writer.close()

    assert read_csv(tmp_path / "sim" / "kpis.csv") == [
        ["variable", "value"],
        ["avg_price", "41.5"],
        ["total_volume", "100.0"],
    ]


def test_csv_rejects_a_different_column_set(tmp_path):
    writer = CsvWriter(tmp_path, "sim")
    writer.write("kpis", {"variable": ["avg_price"], "value": [41.5]})
    with pytest.raises(ValueError, match=r"'kpis'.*'variable', 'value'.*'variable', 'ident'"):
        writer.write("kpis", {"variable": ["avg_price"], "ident": ["EOM"]})
    writer.close()


def test_csv_rejects_columns_of_unequal_length(tmp_path):
    writer = CsvWriter(tmp_path, "sim")
    with pytest.raises(ValueError, match="'kpis'.*differ in length"):
        writer.write("kpis", {"variable": ["a", "b"], "value": [1.0]})
    writer.close()


def test_csv_formats_datetimes_missing_values_and_types(tmp_path):
    times = np.array(["2019-01-01T00:15:00", "NaT", "2019-01-01T00:15:00"], dtype="datetime64[ns]")
    writer = CsvWriter(tmp_path, "sim")
    writer.write(
        "market_orders",
        {
            "start_time": times,
            "price": np.array([np.nan, 1 / 3, 10.0]),
            "volume": np.array([5, -7, 0], dtype=np.int64),
            "accepted": np.array([True, False, True]),
            "unit_id": ["plain", 'has "quote", comma', None],
            "end_time": [dt.datetime(2019, 1, 1, 1), None, dt.datetime(2019, 1, 1, 2, 30)],
            "share": np.array([0.1, 0.5, np.nan], dtype=np.float32),
            "count": [np.int64(3), None, np.int64(4)],
        },
    )
    writer.close()

    path = tmp_path / "sim" / "market_orders.csv"
    assert read_csv(path)[1:] == [
        ["2019-01-01 00:15:00", "", "5", "True", "plain", "2019-01-01 01:00:00", "0.1", "3"],
        ["", "0.3333333333333333", "-7", "False", 'has "quote", comma', "", "0.5", ""],
        ["2019-01-01 00:15:00", "10.0", "0", "True", "", "2019-01-01 02:30:00", "", "4"],
    ]
    assert '"has ""quote"", comma"' in path.read_text()
    assert '"plain"' not in path.read_text()


def test_csv_rerun_replaces_written_tables_and_keeps_others(tmp_path):
    first = CsvWriter(tmp_path, "sim")
    first.write("kpis", {"value": [1.0]})
    first.write("market_meta", {"price": [2.0]})
    first.close()

    second = CsvWriter(tmp_path, "sim")
    assert read_csv(tmp_path / "sim" / "kpis.csv") == [["value"], ["1.0"]]
    second.write("kpis", {"value": [3.0]})
    second.close()

    assert read_csv(tmp_path / "sim" / "kpis.csv") == [["value"], ["3.0"]]
    assert read_csv(tmp_path / "sim" / "market_meta.csv") == [["price"], ["2.0"]]


def test_csv_write_after_close_appends(tmp_path):
    writer = CsvWriter(tmp_path, "sim")
    writer.write("kpis", {"value": [1.0]})
    writer.close()
    writer.write("kpis", {"value": [2.0]})
    writer.close()

    assert read_csv(tmp_path / "sim" / "kpis.csv") == [["value"], ["1.0"], ["2.0"]]


def test_csv_rejects_table_names_that_are_paths(tmp_path):
    writer = CsvWriter(tmp_path, "sim")
    with pytest.raises(ValueError, match="CSV file name"):
        writer.write("../escape", {"value": [1.0]})


# --- SQL, shared by SQLite and PostgreSQL ----------------------------------------------------


@pytest.fixture(params=["sqlite", "postgres"])
def database(request):
    return request.getfixturevalue(f"{request.param}_database")


def column_types(database, table: str) -> dict[str, str]:
    if database.uri.startswith("sqlite"):
        return {row[1]: row[2] for row in database.query(f'PRAGMA table_info("{table}")')}
    return dict(
        database.query(
            "SELECT column_name, data_type FROM information_schema.columns"
            f" WHERE table_schema = current_schema() AND table_name = '{table}'"
        )
    )


def test_sql_creates_table_with_inferred_types(database):
    writer = SqlWriter(database.uri, "sim")
    writer.write(
        "market_orders",
        {
            "start_time": np.array(["2019-01-01T01:00", "NaT"], dtype="datetime64[ns]"),
            "bid_id": ["b1", "b2"],
            "price": np.array([1 / 3, np.nan]),
            "volume": np.array([10, -5], dtype=np.int64),
            "accepted": np.array([True, False]),
            "simulation": ["sim", "sim"],
        },
    )
    writer.close()

    postgres = database.uri.startswith("postgresql")
    assert column_types(database, "market_orders") == {
        "start_time": "timestamp without time zone" if postgres else "TEXT",
        "bid_id": "text" if postgres else "TEXT",
        "price": "double precision" if postgres else "REAL",
        "volume": "bigint" if postgres else "INTEGER",
        "accepted": "boolean" if postgres else "INTEGER",
        "simulation": "text" if postgres else "TEXT",
    }
    start = dt.datetime(2019, 1, 1, 1) if postgres else "2019-01-01 01:00:00"
    accepted, rejected = (True, False) if postgres else (1, 0)
    assert database.rows("market_orders", "bid_id, start_time, price, volume, accepted") == [
        ("b1", start, 1 / 3, 10, accepted),
        ("b2", None, None, -5, rejected),
    ]


def test_sql_appends_and_adds_new_columns(database):
    writer = SqlWriter(database.uri, "sim")
    writer.write("kpis", {"variable": ["avg_price"], "value": [41.5], "simulation": ["sim"]})
    writer.write("kpis", {"simulation": ["sim"], "variable": ["total_cost"], "value": [9.0]})
    writer.write("kpis", {"variable": ["total_volume"], "ident": ["EOM"], "simulation": ["sim"]})
    writer.close()

    assert database.rows("kpis", "variable, value, ident") == [
        ("avg_price", 41.5, None),
        ("total_cost", 9.0, None),
        ("total_volume", None, "EOM"),
    ]


def test_sql_rerun_replaces_own_rows_and_keeps_other_simulations(database):
    for simulation, price in [("sim_a", 1.0), ("sim_b", 2.0)]:
        writer = SqlWriter(database.uri, simulation)
        writer.write("market_meta", {"simulation": [simulation] * 2, "price": [price, price]})
        writer.close()

    rerun = SqlWriter(database.uri, "sim_a")
    rerun.write("market_meta", {"simulation": ["sim_a"], "price": [3.0]})
    rerun.write("market_meta", {"simulation": ["sim_a"], "price": [4.0]})
    rerun.close()

    assert database.rows("market_meta", "simulation, price") == [
        ("sim_a", 3.0),
        ("sim_a", 4.0),
        ("sim_b", 2.0),
        ("sim_b", 2.0),
    ]


def test_sql_rerun_without_rows_still_clears_the_old_run(database):
    writer = SqlWriter(database.uri, "sim")
    writer.write("kpis", {"simulation": ["sim"], "value": [1.0]})
    writer.close()

    rerun = SqlWriter(database.uri, "sim")
    rerun.write("kpis", {"simulation": [], "value": []})
    rerun.write("never_written", {"simulation": [], "value": []})
    rerun.close()

    assert database.rows("kpis", "simulation, value") == []
    assert column_types(database, "never_written") == {}


def test_sql_quotes_identifiers_and_passes_values_as_parameters(database):
    table = 'odd "table"; DROP TABLE x'
    writer = SqlWriter(database.uri, "sim")
    writer.write(table, {"100% share": [0.5], "it's": ["'); DROP TABLE kpis; --"]})
    writer.close()

    assert database.rows(table.replace('"', '""'), '"100% share", "it\'s"') == [
        (0.5, "'); DROP TABLE kpis; --")
    ]


def test_sql_failed_write_rolls_back_and_keeps_the_old_run(database):
    database.query("CREATE TABLE kpis (simulation TEXT, value REAL CHECK (value >= 0))")
    writer = SqlWriter(database.uri, "sim")
    writer.write("kpis", {"simulation": ["sim"], "value": [1.0]})
    writer.close()

    rerun = SqlWriter(database.uri, "sim")
    with pytest.raises(Exception, match="(?i)check constraint"):
        rerun.write("kpis", {"simulation": ["sim", "sim"], "value": [2.0, -1.0]})
    assert database.rows("kpis", "simulation, value") == [("sim", 1.0)]

    # The failed write did not count as the first one: the next write still replaces the old run.
    rerun.write("kpis", {"simulation": ["sim"], "value": [5.0]})
    rerun.close()
    assert database.rows("kpis", "simulation, value") == [("sim", 5.0)]


# --- connection errors and open_writers ------------------------------------------------------


def test_postgres_uri_prefixes_are_normalised(postgres_database):
    base = postgres_database.uri.removeprefix("postgresql://")
    for prefix in ["postgres://", "postgresql+psycopg2://"]:
        writer = SqlWriter(prefix + base, "sim")
        writer.write("kpis", {"simulation": ["sim"], "value": [1.0]})
        writer.close()
    assert postgres_database.rows("kpis", "simulation, value") == [("sim", 1.0)]


def test_unreachable_postgres_is_a_configuration_error_without_password():
    uri = "postgresql://postgres:secret@127.0.0.1:1/test"
    with pytest.raises(ConfigurationError) as error:
        SqlWriter(uri, "sim")
    message = str(error.value)
    assert "postgresql://postgres:***@127.0.0.1:1/test" in message
    assert "secret" not in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("uri", "cause"),
    [("mysql://root@localhost/db", "Unsupported"), ("sqlite://relative.db", "Unsupported")],
)
def test_unsupported_uri_is_a_configuration_error(uri, cause):
    with pytest.raises(ConfigurationError, match=cause):
        SqlWriter(uri, "sim")


def test_unusable_sqlite_file_is_a_configuration_error(tmp_path):
    not_a_database = tmp_path / "notes.db"
    not_a_database.write_text("this is not a database, just text " * 100)
    with pytest.raises(ConfigurationError, match=f"sqlite:///{not_a_database}.*not a database"):
        SqlWriter(f"sqlite:///{not_a_database}", "sim")


def test_missing_psycopg_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "psycopg", None)
    with pytest.raises(ConfigurationError, match=r"pip install assume\[postgres\]"):
        SqlWriter("postgresql://postgres@127.0.0.1:5432/test", "sim")


def test_open_writers_returns_the_configured_back_ends(tmp_path):
    assert open_writers(None, None, "sim") == []
    writers = open_writers(str(tmp_path / "csv"), f"sqlite:///{tmp_path / 'out.db'}", "sim")
    assert [type(writer) for writer in writers] == [CsvWriter, SqlWriter]
    for writer in writers:
        writer.write("kpis", {"simulation": ["sim"], "value": [1.0]})
        writer.close()
    assert read_csv(tmp_path / "csv" / "sim" / "kpis.csv") == [
        ["simulation", "value"],
        ["sim", "1.0"],
    ]
