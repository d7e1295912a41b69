"""CSV tables without pandas: a header, the first column as index, cells typed on request.

Missing-value markers follow ASSUME's ``pandas.read_csv(na_values=...)``: an empty cell,
``n.a.``, ``None``, ``-``, ``none``, ``nan`` and ``NaN``. Every error names the file, and where
it concerns a cell, the row (index value and line number), the column and what was expected.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import numpy as np

from assume.errors import InputDataError

MISSING_MARKERS = frozenset({"", "n.a.", "None", "-", "none", "nan", "NaN"})

TIMESTAMP_LIKE = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}")


def read_table(path: str | Path, index_label: str = "index value") -> Table:
    """Read a CSV file whose first column is the index (unit name or timestamp).

    ``index_label`` names an index value in messages, e.g. ``"unit name"``.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputDataError(f"file {path} does not exist") from None
    except UnicodeDecodeError as exc:
        raise InputDataError(f"file {path} is not UTF-8 text: {exc}") from None
    except OSError as exc:
        raise InputDataError(f"cannot read file {path}: {exc}") from None
    if '"' in text:
        header, line_numbers, rows = _split_quoted(text)
        lines = None
    else:
        header, line_numbers, lines = _split_plain(text)
        rows = None
    if header is None:
        raise InputDataError(f"file {path} is empty; expected a header line with column names")
    return Table(path, header, line_numbers, lines, rows, index_label)


def _split_plain(text: str) -> tuple[list[str] | None, list[int], list[str]]:
    """Header cells, line numbers and raw data lines of a file without quoting."""
    header = None
    numbers: list[int] = []
    lines: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if header is None:
            header = [cell.strip() for cell in line.split(",")]
            continue
        numbers.append(number)
        lines.append(line)
    return header, numbers, lines


def _split_quoted(text: str) -> tuple[list[str] | None, list[int], list[list[str]]]:
    """Header cells, line numbers and cells of a file that uses CSV quoting."""
    reader = csv.reader(io.StringIO(text, newline=""))
    header = None
    numbers: list[int] = []
    rows: list[list[str]] = []
    for cells in reader:
        if not any(cell.strip() for cell in cells):
            continue
        if header is None:
            header = [cell.strip() for cell in cells]
            continue
        numbers.append(reader.line_num)
        rows.append(cells)
    return header, numbers, rows


class Table:
    """A CSV table: ``index`` values of the first column, named value ``columns``."""

    def __init__(
        self,
        path: Path,
        header: list[str],
        line_numbers: list[int],
        lines: list[str] | None,
        rows: list[list[str]] | None,
        index_label: str,
    ):
        self.path = path
        self.index_name = header[0]
        self.columns = header[1:]
        self.line_numbers = line_numbers
        self._lines = lines
        self._rows = rows
        self._parsed: dict[str, np.ndarray] = {}
        self._check_header()
        self._positions = {name: j for j, name in enumerate(self.columns)}
        self.index = self._read_index()
        self._check_unique(index_label)

    def __len__(self) -> int:
        return len(self.index)

    def has(self, column: str) -> bool:
        """Whether the table has a column of that name."""
        return column in self._positions

    def floats(
        self,
        column: str,
        default: float | None = None,
        required: bool = False,
        minimum: float | None = None,
        maximum: float | None = None,
    ) -> np.ndarray:
        """The column as float64; missing cells become ``default`` (NaN if None).

        ``required``: the column must exist, and without a default every cell must be filled.
        ``minimum``/``maximum`` are inclusive bounds on the values that are present.
        """
        if not self.has(column):
            if required:
                raise self._missing_column(column, "numbers")
            return np.full(len(self), np.nan if default is None else float(default))
        values = self._column_floats(column)
        missing = np.isnan(values)
        if missing.any():
            if default is not None:
                values = np.where(missing, float(default), values)
            elif required:
                raise self.cell_error(int(np.argmax(missing)), column, "a number")
        if minimum is not None:
            low = np.flatnonzero(values < minimum)
            if low.size:
                raise self.cell_error(int(low[0]), column, _bounds(minimum, maximum))
        if maximum is not None:
            high = np.flatnonzero(values > maximum)
            if high.size:
                raise self.cell_error(int(high[0]), column, _bounds(minimum, maximum))
        return values

    def strings(
        self, column: str, default: str | None = None, required: bool = False
    ) -> list[str | None]:
        """The column as stripped text; missing cells become ``default``.

        ``required``: the column must exist, and without a default every cell must be filled.
        """
        if not self.has(column):
            if required:
                raise self._missing_column(column, "text")
            return [default] * len(self)
        values: list[str | None] = []
        for row, cell in enumerate(self._column_cells(column)):
            if cell in MISSING_MARKERS:
                if default is None and required:
                    raise self.cell_error(row, column, "a value")
                values.append(default)
            else:
                values.append(cell)
        return values

    def cell_error(self, row: int, column: str, expected: str) -> InputDataError:
        """An error for one cell: file, row (index value and line), column, expectation, content."""
        cell = self._column_cells(column)[row] if self.has(column) else ""
        got = "an empty cell" if cell in MISSING_MARKERS else repr(cell)
        return InputDataError(
            f"{self.path}: row {self.index[row]!r} (line {self.line_numbers[row]}), "
            f"column {column!r}: expected {expected}, got {got}"
        )

    def _missing_column(self, column: str, kind: str) -> InputDataError:
        return InputDataError(
            f"{self.path}: column {column!r} is missing; expected a column of {kind} "
            f"(columns found: {', '.join(self.columns) or 'none'})"
        )

    def _check_header(self) -> None:
        if not self.columns:
            raise InputDataError(
                f"{self.path}: the header has no value columns; expected the index column "
                "followed by at least one named column, separated by commas"
            )
        unnamed = [j + 2 for j, name in enumerate(self.columns) if not name]
        if unnamed:
            raise InputDataError(
                f"{self.path} line 1: column {unnamed[0]} has no name; expected a header line "
                "with a name for every column"
            )
        if TIMESTAMP_LIKE.match(self.index_name) or all(_is_number(c) for c in self.columns):
            raise InputDataError(
                f"{self.path}: the first line {','.join([self.index_name, *self.columns])!r} "
                "looks like data; expected a header line with column names"
            )
        seen: set[str] = set()
        for name in self.columns:
            if name in seen or name == self.index_name:
                raise InputDataError(f"{self.path}: column {name!r} appears twice in the header")
            seen.add(name)

    def _read_index(self) -> list[str]:
        width = len(self.columns) + 1
        if self._lines is not None:
            counts = [line.count(",") + 1 for line in self._lines]
            index = [line.partition(",")[0].strip() for line in self._lines]
        else:
            counts = [len(cells) for cells in self._rows]
            index = [cells[0].strip() for cells in self._rows]
        for row, count in enumerate(counts):
            if count != width:
                raise InputDataError(
                    f"{self.path} line {self.line_numbers[row]}: {count} fields, expected "
                    f"{width} as in the header ({self.index_name}, {', '.join(self.columns)})"
                )
        return index

    def _check_unique(self, index_label: str) -> None:
        first_line: dict[str, int] = {}
        for value, line in zip(self.index, self.line_numbers, strict=True):
            if value in MISSING_MARKERS:
                raise InputDataError(
                    f"{self.path} line {line}: the first column is empty; expected a {index_label}"
                )
            if value in first_line:
                raise InputDataError(
                    f"duplicate {index_label} {value!r} in file {self.path} "
                    f"lines {first_line[value]} and {line}"
                )
            first_line[value] = line

    def _column_cells(self, column: str) -> list[str]:
        if self._rows is None:
            self._rows = [line.split(",") for line in self._lines]
        position = self._positions[column] + 1
        return [cells[position].strip() for cells in self._rows]

    def parse_floats(self, columns: list[str]) -> None:
        """Parse these columns at once with numpy's C reader, if every cell is a number.

        The fast path for long time series; :meth:`floats` then only looks them up. Any
        other content is left to per-column parsing, which also yields precise errors.
        """
        columns = [c for c in columns if self.has(c) and c not in self._parsed]
        if not columns or self._lines is None or not self._lines:
            return
        try:
            matrix = np.loadtxt(
                self._lines,
                delimiter=",",
                usecols=[self._positions[c] + 1 for c in columns],
                dtype=np.float64,
                comments=None,
                ndmin=2,
            )
        except ValueError:
            return
        for j, column in enumerate(columns):
            self._parsed[column] = matrix[:, j].copy()

    def _column_floats(self, column: str) -> np.ndarray:
        if column in self._parsed:
            return self._parsed[column].copy()
        values = np.empty(len(self))
        for row, cell in enumerate(self._column_cells(column)):
            if cell in MISSING_MARKERS:
                values[row] = np.nan
                continue
            try:
                values[row] = float(cell)
            except ValueError:
                raise self.cell_error(row, column, "a number") from None
        return values


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _bounds(minimum: float | None, maximum: float | None) -> str:
    if minimum is not None and maximum is not None:
        return f"a number between {minimum:g} and {maximum:g}"
    if minimum is not None:
        return f"a number of at least {minimum:g}"
    return f"a number of at most {maximum:g}"
