import numpy as np
import pytest

from assume.errors import InputDataError
from assume.scenario.csvfile import read_table


def write(tmp_path, text, name="units.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_index_columns_and_whitespace(tmp_path):
    table = read_table(write(tmp_path, "name, max_power ,fuel\n a ,1.5, gas \nb, 2 ,coal\n"))
    assert table.index == ["a", "b"]
    assert table.columns == ["max_power", "fuel"]
    assert table.has("fuel") and not table.has("name")
    assert table.floats("max_power").tolist() == [1.5, 2.0]
    assert table.strings("fuel") == ["gas", "coal"]


@pytest.mark.parametrize("marker", ["", "n.a.", "None", "-", "none", "nan", "NaN"])
def test_missing_markers(tmp_path, marker):
    table = read_table(write(tmp_path, f"name,x,y\na,{marker},{marker}\nb,3,t\n"))
    assert np.isnan(table.floats("x")[0])
    assert table.floats("x", default=7.0).tolist() == [7.0, 3.0]
    assert table.strings("y") == [None, "t"]
    assert table.strings("y", default="d") == ["d", "t"]


def test_absent_column_default_and_required(tmp_path):
    path = write(tmp_path, "name,x\na,1\n")
    table = read_table(path)
    assert table.floats("y", default=2.0).tolist() == [2.0]
    assert np.isnan(table.floats("y")[0])
    assert table.strings("z", default="node0") == ["node0"]
    with pytest.raises(InputDataError, match="column 'y' is missing") as error:
        table.floats("y", required=True)
    assert str(path) in str(error.value)


def test_required_cell_error_names_file_row_line_and_column(tmp_path):
    path = write(tmp_path, "name,x\na,1\nb,\n")
    with pytest.raises(InputDataError) as error:
        read_table(path).floats("x", required=True)
    message = str(error.value)
    assert str(path) in message and "'b'" in message and "line 3" in message
    assert "'x'" in message and "expected a number" in message


def test_not_a_number(tmp_path):
    with pytest.raises(InputDataError, match=r"row 'a' \(line 2\), column 'x': expected a number"):
        read_table(write(tmp_path, "name,x\na,lots\n")).floats("x")


def test_bounds(tmp_path):
    table = read_table(write(tmp_path, "name,x\na,0.5\nb,-1\n"))
    with pytest.raises(InputDataError, match=r"row 'b' \(line 3\).*at least 0, got '-1'"):
        table.floats("x", minimum=0)
    with pytest.raises(InputDataError, match=r"row .a. .line 2.*between -5 and 0.4, got .0.5."):
        table.floats("x", minimum=-5, maximum=0.4)


@pytest.mark.parametrize("text", ["", "\n\n  \n"])
def test_empty_file(tmp_path, text):
    with pytest.raises(InputDataError, match="is empty"):
        read_table(write(tmp_path, text))


def test_missing_header(tmp_path):
    with pytest.raises(InputDataError, match="looks like data"):
        read_table(write(tmp_path, "2019-01-01 00:00,1,2\n2019-01-01 01:00,1,2\n"))
    with pytest.raises(InputDataError, match="looks like data"):
        read_table(write(tmp_path, "a,1,2\nb,1,2\n"))


def test_duplicate_unit_name(tmp_path):
    path = write(tmp_path, "name,x\na,1\nb,2\n\na,3\n")
    with pytest.raises(InputDataError) as error:
        read_table(path, index_label="unit name")
    assert str(error.value) == f"duplicate unit name 'a' in file {path} lines 2 and 5"


def test_ragged_row(tmp_path):
    with pytest.raises(InputDataError, match="line 3: 2 fields, expected 3"):
        read_table(write(tmp_path, "name,x,y\na,1,2\nb,1\n"))


def test_duplicate_and_unnamed_columns(tmp_path):
    with pytest.raises(InputDataError, match="'x' appears twice"):
        read_table(write(tmp_path, "name,x,x\na,1,2\n"))
    with pytest.raises(InputDataError, match="column 3 has no name"):
        read_table(write(tmp_path, "name,x,\na,1,2\n"))


def test_quoted_cells(tmp_path):
    table = read_table(write(tmp_path, 'name,tech,x\n"plant, north","hard coal",1\n'))
    assert table.index == ["plant, north"]
    assert table.strings("tech") == ["hard coal"]
    assert table.floats("x").tolist() == [1.0]


def test_fast_parse_matches_per_column_parse(tmp_path):
    table = read_table(write(tmp_path, "t,a,b\n1,1.5,2\n2, 3 ,nan\n"))
    table.parse_floats(["a", "b"])
    assert table.floats("a").tolist() == [1.5, 3.0]
    assert np.isnan(table.floats("b")[1])
    table = read_table(write(tmp_path, "t,a,b\n1,1.5,\n2,3,4\n"))
    table.parse_floats(["a", "b"])  # falls back quietly: an empty cell
    assert np.isnan(table.floats("b")[0])
