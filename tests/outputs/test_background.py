"""Tests of the output writer process (BackgroundWriter) with real CSV files."""

import csv
import os
import signal

import numpy as np
import pytest

from assume.errors import AssumeError
from assume.outputs import background
from assume.outputs.background import BackgroundWriter


def read_rows(path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as file:
        return list(csv.reader(file))


def test_tables_arrive_complete_and_in_order(tmp_path):
    writer = BackgroundWriter(str(tmp_path), None, "sim")
    # more tables than either queue holds, so that both the simulation and the sender wait
    count = 3 * max(background.HANDED_TABLES, background.QUEUED_TABLES)
    for i in range(count):
        writer.write("plain", {"i": np.array([2 * i, 2 * i + 1])})
        # merged tables are sorted and get the simulation column in the writer process
        merged = {"time": np.array([i], dtype="datetime64[s]"), "unit": np.array([f"u{i % 3}"])}
        writer.write_merged("unit_dispatch", merged)
    writer.close()
    plain = read_rows(tmp_path / "sim" / "plain.csv")
    assert plain[0] == ["i"] and [int(row[0]) for row in plain[1:]] == list(range(2 * count))
    merged = read_rows(tmp_path / "sim" / "unit_dispatch.csv")
    assert merged[0] == ["time", "unit", "simulation"] and len(merged) == count + 1
    assert {row[2] for row in merged[1:]} == {"sim"}
    writer.close()  # a second close does nothing


def test_items_cross_the_pipe_with_their_arrays_sent_out_of_band():
    import multiprocessing

    here, there = multiprocessing.Pipe()
    grid = np.arange(12.0).reshape(3, 4)
    columns = {
        "power": np.array([1.5, -0.0, np.nan]),
        "unit": np.array(["plant_1", "demand_EOM", "x"]),
        "time": np.array([0, 3600, 7200], dtype="datetime64[s]"),
        "strided": grid[:, 1],  # not contiguous: copied first
        "rows": [1, "two", None],
        "labels": np.array(["a", None, np.float64(2.5)], dtype=object),  # in the header
    }
    background._send_item(here, ("unit_dispatch", columns, True))
    background._send_item(here, None)
    table, received, merged = background._receive_item(there)
    assert (table, merged) == ("unit_dispatch", True)
    assert received.keys() == columns.keys()
    for name in ("power", "unit", "time", "strided"):
        assert received[name].dtype == columns[name].dtype
        assert received[name].tobytes() == columns[name].tobytes()
    assert received["rows"] == [1, "two", None]
    assert received["labels"].dtype == object and received["labels"].tolist() == ["a", None, 2.5]
    assert background._receive_item(there) is None


def test_an_error_in_the_writer_process_names_the_table(tmp_path):
    writer = BackgroundWriter(str(tmp_path), None, "sim")
    writer.write("good", {"x": np.array([1.0])})
    writer.write("bad", {"x": np.array([1.0, 2.0]), "y": np.array([1.0])})
    with pytest.raises(AssumeError, match="writing table bad"):
        writer.close()
    # what came before the error is written
    assert read_rows(tmp_path / "sim" / "good.csv") == [["x"], ["1.0"]]


def test_a_killed_writer_process_is_an_error_not_a_hang(tmp_path):
    writer = BackgroundWriter(str(tmp_path), None, "sim")
    writer.write("before", {"x": np.array([1.0])})
    os.kill(writer._process.pid, signal.SIGKILL)
    writer._process.join()
    # the next write sees that the process is gone
    with pytest.raises(AssumeError, match=r"writer process ended \(exit code -9\)"):
        writer.write("after", {"x": np.array([2.0])})
    # closing says so too, and does not wait for an answer that cannot come
    with pytest.raises(AssumeError, match=r"writer process ended \(exit code -9\)"):
        writer.close()
    writer.close()  # closed by now: nothing left to do


def test_a_table_that_cannot_be_sent_is_an_error_and_the_rest_is_written(tmp_path):
    writer = BackgroundWriter(str(tmp_path), None, "sim")
    writer.write("before", {"x": np.array([1.0])})
    writer.write("bad", {"x": np.array([lambda: 0], dtype=object)})  # cannot be sent
    with pytest.raises(AssumeError, match="could not hand table bad to the writer process"):
        for _ in range(2 * background.HANDED_TABLES):  # until the sender has tried it
            writer.write("after", {"x": np.array([2.0])})
    # closing does not wait for an answer that cannot come, and says what was lost
    with pytest.raises(AssumeError, match="could not hand table bad"):
        writer.close()
    assert read_rows(tmp_path / "sim" / "before.csv") == [["x"], ["1.0"]]


def test_writing_after_close_is_an_error(tmp_path):
    writer = BackgroundWriter(str(tmp_path), None, "sim")
    writer.close()
    with pytest.raises(AssumeError, match="table late written after close"):
        writer.write("late", {"x": np.array([1.0])})
