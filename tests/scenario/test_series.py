import numpy as np
import pytest

from assume.errors import InputDataError
from assume.scenario.series import read_fuel_prices, read_series
from assume.timeutil import TimeIndex, parse_datetime

START = parse_datetime("2019-01-01 00:00")


def hours(count, step="1h"):
    """The index over ``count`` hours from START, end inclusive."""
    seconds = {"1h": 3600, "15min": 900}[step]
    return TimeIndex.inclusive(START, START + count * 3600, seconds)


def write_series(tmp_path, columns, step_minutes, rows, name="series.csv", fmt="%Y-%m-%d %H:%M:%S"):
    """A datetime-indexed file; each column's values are given as a function of the row."""
    stamps = np.datetime64("2019-01-01T00:00") + np.arange(rows) * np.timedelta64(step_minutes, "m")
    lines = ["datetime," + ",".join(columns)]
    for row, stamp in enumerate(stamps):
        text = stamp.astype(object).strftime(fmt)
        lines.append(text + "," + ",".join(str(f(row)) for f in columns.values()))
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def test_same_resolution_is_cut_to_the_index(tmp_path):
    path = write_series(tmp_path, {"a": lambda r: r, "b": lambda r: -r}, 60, 48)
    series = read_series(path, hours(24))
    assert set(series) == {"a", "b"}
    assert series["a"].tolist() == list(range(25))
    assert series["a"].dtype == np.float64


@pytest.mark.parametrize("fmt", ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M"])
def test_timestamp_spellings(tmp_path, fmt):
    path = write_series(tmp_path, {"a": lambda r: r}, 60, 3, fmt=fmt)
    assert read_series(path, hours(2))["a"].tolist() == [0, 1, 2]


def test_index_starting_later_than_the_file(tmp_path):
    path = write_series(tmp_path, {"a": lambda r: r}, 60, 10)
    index = TimeIndex.inclusive(START + 3 * 3600, START + 5 * 3600, 3600)
    assert read_series(path, index)["a"].tolist() == [3, 4, 5]


def test_quarter_hours_are_averaged_to_hours(tmp_path):
    path = write_series(tmp_path, {"a": lambda r: r}, 15, 4 * 24 + 4)
    series = read_series(path, hours(24))
    assert series["a"].tolist() == [4 * h + 1.5 for h in range(25)]


def test_partial_last_hour_is_averaged_over_its_rows(tmp_path):
    # as pandas' resample: a file ending exactly at end_date covers the last hour
    path = write_series(tmp_path, {"a": lambda r: r}, 15, 4 * 2 + 1)
    assert read_series(path, hours(2))["a"].tolist() == [1.5, 5.5, 8.0]


def test_too_short_names_file_and_needed_period(tmp_path):
    path = write_series(tmp_path, {"a": lambda r: r}, 60, 12)
    with pytest.raises(InputDataError) as error:
        read_series(path, hours(24))
    message = str(error.value)
    assert str(path) in message
    assert "covers 2019-01-01 00:00:00 to 2019-01-01 11:00:00" in message
    assert "needs 2019-01-01 00:00:00 to 2019-01-02 00:00:00" in message


def test_starting_after_the_index_is_too_short(tmp_path):
    path = write_series(tmp_path, {"a": lambda r: r}, 60, 30)
    index = TimeIndex.inclusive(START - 3600, START + 3600, 3600)
    with pytest.raises(InputDataError, match="covers"):
        read_series(path, index)


def test_coarser_series_is_an_error(tmp_path):
    path = write_series(tmp_path, {"a": lambda r: r}, 120, 30)
    with pytest.raises(InputDataError, match=r"rows are 2 h apart.*time_step of 1 h") as error:
        read_series(path, hours(24))
    assert str(path) in str(error.value)


def test_resolution_that_does_not_divide_the_step(tmp_path):
    path = write_series(tmp_path, {"a": lambda r: r}, 40, 60)
    with pytest.raises(InputDataError, match="40 min apart"):
        read_series(path, hours(24))


def test_irregular_spacing_names_the_lines(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text(
        "datetime,a\n2019-01-01 00:00,1\n2019-01-01 01:00,1\n"
        "2019-01-01 03:00,1\n2019-01-01 04:00,1\n"
    )
    with pytest.raises(InputDataError, match=r"lines 3 and 4 .* are 2 h apart, expected 1 h"):
        read_series(path, hours(3))


def test_misaligned_series(tmp_path):
    path = tmp_path / "s.csv"
    rows = [f"2018-12-31 23:30,{v}" for v in [0]] + [f"2019-01-01 0{h}:30,1" for h in range(5)]
    path.write_text("datetime,a\n" + "\n".join(rows) + "\n")
    with pytest.raises(InputDataError, match="not aligned"):
        read_series(path, hours(3))


def test_bad_timestamp_names_line(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("datetime,a\n2019-01-01 00:00,1\nyesterday,2\n")
    with pytest.raises(InputDataError, match=r"line 3: 'yesterday' is not a timestamp"):
        read_series(path, hours(1))


def test_missing_value_names_file_column_and_timestamp(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text(
        "datetime,a,b\n2019-01-01 00:00,1,2\n2019-01-01 01:00,1,\n2019-01-01 02:00,1,3\n"
    )
    with pytest.raises(InputDataError) as error:
        read_series(path, hours(2))
    message = str(error.value)
    assert str(path) in message and "'b'" in message
    assert "2019-01-01 01:00" in message and "line 3" in message


def test_missing_values_outside_the_index_do_not_matter(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("datetime,a\n2019-01-01 00:00,\n2019-01-01 01:00,1\n2019-01-01 02:00,2\n")
    index = TimeIndex.inclusive(START + 3600, START + 7200, 3600)
    assert read_series(path, index)["a"].tolist() == [1, 2]


def test_fill_replaces_missing_values(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("datetime,a\n2019-01-01 00:00,0.5\n2019-01-01 01:00,n.a.\n")
    assert read_series(path, hours(1), fill=1.0)["a"].tolist() == [0.5, 1.0]


def test_bounds_checked_before_averaging(tmp_path):
    path = write_series(tmp_path, {"a": lambda r: 1.2 if r == 1 else 0.8}, 30, 6)
    with pytest.raises(InputDataError, match=r"'a': value 1.2 at 2019-01-01 00:30:00 \(line 3\)"):
        read_series(path, hours(2), minimum=0.0, maximum=1.0)


def test_columns_restricts_the_result(tmp_path):
    path = write_series(tmp_path, {"a": lambda r: r, "b": lambda r: r}, 60, 3)
    assert set(read_series(path, hours(2), columns=["b", "c"])) == {"b"}


def test_fuel_prices_single_row(tmp_path):
    path = tmp_path / "fuel_prices_df.csv"
    path.write_text("fuel,uranium,hard coal,co2\nprice,1,10.3,25\n")
    prices = read_fuel_prices(path, hours(3))
    assert prices["hard coal"].tolist() == [10.3] * 4
    assert prices["co2"].tolist() == [25.0] * 4


def test_fuel_prices_single_row_missing_value(tmp_path):
    path = tmp_path / "fuel_prices_df.csv"
    path.write_text("fuel,uranium,oil\nprice,1,\n")
    with pytest.raises(InputDataError, match=r"row 'price' \(line 2\), column 'oil'"):
        read_fuel_prices(path, hours(3))


def test_fuel_prices_time_series(tmp_path):
    path = write_series(tmp_path, {"natural gas": lambda r: 20 + r, "co2": lambda r: 25}, 60, 5)
    prices = read_fuel_prices(path, hours(3))
    assert prices["natural gas"].tolist() == [20, 21, 22, 23]
    assert prices["co2"].tolist() == [25] * 4


def test_fuel_prices_several_rows_without_timestamps(tmp_path):
    path = tmp_path / "fuel_prices_df.csv"
    path.write_text("fuel,oil\nprice,1\nother,2\n")
    with pytest.raises(InputDataError, match="expected either a single row"):
        read_fuel_prices(path, hours(3))


def test_a_year_of_quarter_hours_with_100_columns_is_averaged_to_hours(tmp_path):
    rows = 365 * 96
    stamps = np.datetime_as_string(
        np.datetime64("2019-01-01T00:00") + np.arange(rows) * np.timedelta64(15, "m"), unit="s"
    )
    values = np.random.default_rng(0).random((rows, 100)) * 1000
    body = "\n".join(
        f"{s},{','.join(f'{v:.3f}' for v in row)}" for s, row in zip(stamps, values, strict=True)
    )
    path = tmp_path / "big.csv"
    path.write_text("datetime," + ",".join(f"u{i}" for i in range(100)) + "\n" + body + "\n")
    index = TimeIndex.inclusive(START, START + 364 * 86400 + 23 * 3600, 3600)
    series = read_series(path, index)
    assert len(series) == 100 and series["u7"].shape == (index.length,)
    np.testing.assert_allclose(series["u7"][:2], np.round(values[:8, 7], 3).reshape(2, 4).mean(1))
