"""Time series files: datetime-indexed CSV columns brought onto the simulation's TimeIndex.

A series at the index's resolution is cut to the index; a finer one is averaged down (the
mean of the rows in [t, t + step), as ASSUME's ``resample(...).mean()``). Coarser, too short,
irregular or misaligned series are errors that name the file and what was expected.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from assume.errors import InputDataError
from assume.scenario.csvfile import TIMESTAMP_LIKE, Table, read_table
from assume.timeutil import TimeIndex, format_datetime

logger = logging.getLogger(__name__)


def read_series(
    path: str | Path,
    index: TimeIndex,
    columns: Iterable[str] | None = None,
    fill: float | None = None,
    minimum: float | None = None,
    maximum: float | None = None,
) -> dict[str, np.ndarray]:
    """Columns of a datetime-indexed file as float64 arrays over ``index``.

    ``columns`` restricts the result to those present in the file (default: all columns).
    A missing value is an error unless ``fill`` is given, which then replaces it.
    ``minimum``/``maximum`` bound the values (inclusive), checked before averaging.
    """
    table = read_table(path, index_label="timestamp")
    return series_from_table(table, index, columns, fill, minimum, maximum)


def read_fuel_prices(path: str | Path, index: TimeIndex) -> dict[str, np.ndarray]:
    """Fuel and ``co2`` prices over ``index``, from a single row (constant) or a time series.

    The single-row form has the index column ``fuel`` and one row (``price``); as in ASSUME,
    that row holds for the whole simulation.
    """
    table = read_table(path, index_label="row")
    if len(table) == 1:
        return {
            fuel: _constant(table.floats(fuel, required=True)[0], index.length)
            for fuel in table.columns
        }
    if not TIMESTAMP_LIKE.match(table.index[0]):
        raise InputDataError(
            f"{table.path}: {len(table)} rows with index {table.index[0]!r}, ...; expected either "
            "a single row of prices (index column 'fuel', row 'price') or one row per timestamp"
        )
    return series_from_table(table, index)


def series_from_table(
    table: Table,
    index: TimeIndex,
    columns: Iterable[str] | None = None,
    fill: float | None = None,
    minimum: float | None = None,
    maximum: float | None = None,
) -> dict[str, np.ndarray]:
    """The datetime-indexed ``table`` brought onto ``index``; see :func:`read_series`."""
    times = parse_timestamps(table)
    first_row, rows_per_step = _locate(table, times, index)
    wanted = table.columns if columns is None else [c for c in columns if table.has(c)]
    stop = min(len(times), first_row + index.length * rows_per_step)
    table.parse_floats(wanted)
    result = {}
    for column in wanted:
        values = table.floats(column)[first_row:stop]
        missing = np.isnan(values)
        if missing.any():
            values = _fill_missing(table, column, values, missing, first_row, fill)
        _check_bounds(table, column, values, first_row, minimum, maximum)
        if rows_per_step > 1:
            values = _average(values, rows_per_step)
        result[column] = np.ascontiguousarray(values, dtype=np.float64)
    return result


def parse_timestamps(table: Table) -> np.ndarray:
    """The table's index as int64 epoch seconds; naive timestamps are UTC."""
    bad = next((r for r, v in enumerate(table.index) if not TIMESTAMP_LIKE.match(v)), None)
    if bad is None:
        try:
            # numpy converts explicit offsets (``+01:00``, ``Z``) to UTC and warns that it did
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                return np.array(table.index, dtype="datetime64[s]").astype(np.int64)
        except ValueError:
            bad = _first_bad_timestamp(table.index)
    raise InputDataError(
        f"{table.path} line {table.line_numbers[bad]}: {table.index[bad]!r} is not a timestamp;"
        f" expected one such as '2019-01-01 00:00:00' in the first column ({table.index_name})"
    )


def _first_bad_timestamp(values: list[str]) -> int:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for row, value in enumerate(values):
            try:
                np.datetime64(value, "s")
            except ValueError:
                return row
    return 0


def _locate(table: Table, times: np.ndarray, index: TimeIndex) -> tuple[int, int]:
    """Validate spacing and coverage; return the row of ``index.start`` and rows per step."""
    step_text = format_duration(index.step)
    needed = (
        f"the simulation needs {format_datetime(index.start)} to {format_datetime(index.end)} "
        f"at a time_step of {step_text} or finer"
    )
    if len(times) < 2:
        if len(times) == 1 and index.length == 1 and times[0] == index.start:
            return 0, 1
        raise InputDataError(f"{table.path} has {len(times)} row(s) of data; {needed}")
    gaps = np.diff(times)
    spacing = int(gaps[0])
    irregular = np.flatnonzero(gaps != spacing)
    if spacing <= 0 or irregular.size:
        row = 0 if spacing <= 0 else int(irregular[0])
        raise InputDataError(
            f"{table.path}: timestamps must increase at a regular spacing; lines "
            f"{table.line_numbers[row]} and {table.line_numbers[row + 1]} "
            f"({table.index[row]!r}, {table.index[row + 1]!r}) are {format_duration(gaps[row])} "
            f"apart, expected {format_duration(spacing)} as between the first two rows"
        )
    if spacing > index.step or index.step % spacing:
        raise InputDataError(
            f"{table.path}: rows are {format_duration(spacing)} apart, which is coarser than or "
            f"does not divide the time_step of {step_text}; expected a resolution of {step_text} "
            "or an even fraction of it (finer series are averaged)"
        )
    offset = index.start - int(times[0])
    if offset < 0 or int(times[-1]) < index.end:
        raise InputDataError(
            f"{table.path} covers {format_datetime(times[0])} to {format_datetime(times[-1])}; "
            f"{needed}"
        )
    if offset % spacing:
        raise InputDataError(
            f"{table.path}: timestamps are not aligned with the simulation start "
            f"{format_datetime(index.start)}; expected rows every {format_duration(spacing)} "
            "from a timestamp on that grid"
        )
    return offset // spacing, index.step // spacing


def _fill_missing(
    table: Table,
    column: str,
    values: np.ndarray,
    missing: np.ndarray,
    first_row: int,
    fill: float | None,
) -> np.ndarray:
    row = first_row + int(np.argmax(missing))
    if fill is None:
        raise InputDataError(
            f"{table.path}, column {column!r}: missing value at {table.index[row]} "
            f"(line {table.line_numbers[row]}); expected a number for every simulation step"
        )
    logger.warning(
        "%s, column %r: %d missing value(s) from %s (line %d) on are taken as %g",
        table.path,
        column,
        int(missing.sum()),
        table.index[row],
        table.line_numbers[row],
        fill,
    )
    return np.where(missing, fill, values)


def _check_bounds(
    table: Table,
    column: str,
    values: np.ndarray,
    first_row: int,
    minimum: float | None,
    maximum: float | None,
) -> None:
    low = values < minimum if minimum is not None else np.zeros(values.shape, bool)
    outside = low | (values > maximum) if maximum is not None else low
    if outside.any():
        row = first_row + int(np.argmax(outside))
        lower = "" if minimum is None else f" of at least {minimum:g}"
        upper = "" if maximum is None else f"{' and' if lower else ''} at most {maximum:g}"
        raise InputDataError(
            f"{table.path}, column {column!r}: value {values[row - first_row]:g} at "
            f"{table.index[row]} (line {table.line_numbers[row]}); expected a number{lower}{upper}"
        )


def _average(values: np.ndarray, rows_per_step: int) -> np.ndarray:
    """Mean of each block of ``rows_per_step`` rows; the last block may be partial.

    ``np.add.reduceat`` then a division is what pandas' ``resample().mean()`` does, so
    averaged inputs are bit-identical to ASSUME's.
    """
    starts = np.arange(0, values.size, rows_per_step)
    sizes = np.diff(np.append(starts, values.size)).astype(np.float64)
    return np.add.reduceat(values, starts) / sizes


def _constant(value: float, length: int) -> np.ndarray:
    return np.full(length, float(value))


def format_duration(seconds: int) -> str:
    """A duration in the largest whole unit: ``15 min``, ``1 h``, ``7 d``, ``90 s``."""
    seconds = int(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"
