"""Storage back-ends for simulation output tables: CSV files and SQL databases.

A writer receives columnar rows (one array or list per column, all of equal length)
and appends them to a named table. Rerunning a simulation replaces its earlier
output: CSV files are rewritten, SQL rows with the same ``simulation`` are deleted.
"""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal, Protocol
from urllib.parse import urlsplit

import numpy as np

from assume.errors import ConfigurationError
from assume.outputs.csvtext import array_fields, plain_fields, rows_text

Kind = Literal["float", "int", "bool", "datetime", "text"]
ColumnValues = np.ndarray | list
_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


class TableWriter(Protocol):
    """Appends columnar rows to named output tables."""

    def write(self, table: str, columns: dict[str, ColumnValues]) -> None:
        """Append rows; all columns have equal length, column order is the dict order."""

    def close(self) -> None:
        """Flush and release files or connections."""


@dataclass(frozen=True)
class _Column:
    """A column as plain Python values (None = missing), datetimes already as text."""

    kind: Kind
    values: list


def _format_datetimes(times: np.ndarray) -> list[str | None]:
    # Output tables repeat each timestamp once per unit or order, so format the distinct ones.
    unique, inverse = np.unique(times.astype("datetime64[s]"), return_inverse=True)
    text = [
        None if s == "NaT" else s.replace("T", " ", 1)
        for s in np.datetime_as_string(unique, unit="s").tolist()
    ]
    return [text[k] for k in inverse.ravel().tolist()]


def _plain(value: Any) -> Any:
    """Turn numpy scalars into Python values and NaN/NaT into None."""
    if isinstance(value, np.datetime64):
        value = value.astype("datetime64[us]").item()
    elif isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def _infer_column(items: list) -> _Column:
    """Type a column of Python values by what its non-missing values have in common."""
    if items and all(type(v) is str for v in items):
        return _Column("text", items)  # the common case, e.g. a repeated simulation id
    items = [_plain(v) for v in items]
    present = [v for v in items if v is not None]
    if present and all(isinstance(v, bool) for v in present):
        return _Column("bool", items)
    if present and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return _Column("int", items)
    if present and all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
        return _Column("float", [None if v is None else float(v) for v in items])
    if present and all(isinstance(v, dt.datetime) for v in present):
        return _Column("datetime", [None if v is None else v.strftime(_TIME_FORMAT) for v in items])
    return _Column("text", [None if v is None else str(v) for v in items])


def _to_column(values: ColumnValues) -> _Column:
    """Convert one column to Python values, using the numpy dtype where there is one."""
    if not isinstance(values, np.ndarray):
        return _infer_column(list(values))
    kind = values.dtype.kind
    if kind == "f":
        if values.dtype.itemsize < 8:
            # numpy prints the shortest text that round-trips in single precision:
            # 0.1 stays 0.1 instead of becoming 0.10000000149011612.
            items = [float(s) for s in values.astype(str).tolist()]
        else:
            items = values.tolist()
        if np.isnan(values).any():
            items = [None if v != v else v for v in items]
        return _Column("float", items)
    if kind in "iu":
        return _Column("int", values.tolist())
    if kind == "b":
        return _Column("bool", values.tolist())
    if kind == "M":
        return _Column("datetime", _format_datetimes(values))
    if kind in "US":
        return _Column("text", values.astype(str).tolist())
    return _infer_column(values.tolist())


def _check_columns(table: str, columns: dict[str, ColumnValues]) -> None:
    """A write has 1-D columns of equal length."""
    if not columns:
        raise ValueError(f"Write to table {table!r} has no columns")
    for name, values in columns.items():
        if isinstance(values, np.ndarray) and values.ndim != 1:
            raise ValueError(f"Column {name!r} of table {table!r} is not one-dimensional")
    lengths = {name: len(values) for name, values in columns.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"Columns of table {table!r} differ in length: {lengths}")


def _to_columns(table: str, columns: dict[str, ColumnValues]) -> dict[str, _Column]:
    """Validate a write and convert its columns to Python values."""
    _check_columns(table, columns)
    return {name: _to_column(values) for name, values in columns.items()}


def _csv_fields(values: ColumnValues) -> list[str]:
    fields = array_fields(values) if isinstance(values, np.ndarray) else None
    return fields if fields is not None else plain_fields(_to_column(values).values)


@dataclass
class _CsvTable:
    path: Path
    columns: list[str]
    file: IO[str] | None = None


class CsvWriter:
    """Writes each table to ``<directory>/<simulation_id>/<table>.csv``.

    The first write of a table in this run replaces the file and fixes its columns;
    later writes append.
    """

    def __init__(self, directory: str | Path, simulation_id: str) -> None:
        self.folder = Path(directory) / simulation_id
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigurationError(
                f"Cannot create the CSV output folder {self.folder}: {exc}"
            ) from exc
        self._tables: dict[str, _CsvTable] = {}

    def write(self, table: str, columns: dict[str, ColumnValues]) -> None:
        """Append rows to ``<table>.csv``, reordering columns to the first write's order."""
        _check_columns(table, columns)
        state = self._tables.get(table)
        if state is None:
            state = self._start(table, list(columns))
        elif set(columns) != set(state.columns):
            raise ValueError(
                f"Table {table!r} was started with columns {state.columns}, "
                f"but this write has columns {list(columns)}"
            )
        if state.file is None:  # closed earlier in this run: keep appending
            state.file = open(state.path, "a", newline="", encoding="utf-8")
        state.file.write(rows_text([_csv_fields(columns[name]) for name in state.columns]))
        state.file.flush()

    def _start(self, table: str, column_names: list[str]) -> _CsvTable:
        if not re.fullmatch(r"[\w.-]+", table) or table.startswith("."):
            raise ValueError(f"Table name {table!r} is not usable as a CSV file name")
        state = _CsvTable(self.folder / f"{table}.csv", column_names)
        state.file = open(state.path, "w", newline="", encoding="utf-8")
        state.file.write(rows_text([plain_fields([name]) for name in column_names]))
        self._tables[table] = state
        return state

    def close(self) -> None:
        """Close all table files; later writes in this run append to them again."""
        for state in self._tables.values():
            if state.file is not None:
                state.file.close()
                state.file = None


def _redact(text: str, uri: str) -> str:
    """The text without the URI's password, for messages."""
    try:
        password = urlsplit(uri).password
    except ValueError:
        password = None
    if password:
        text = text.replace(f":{password}@", ":***@")
    return re.sub(r"(password=)[^&\s]*", r"\1***", text)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class _Sqlite:
    """An SQLite file with explicit transactions."""

    placeholder = "?"
    types = {
        "float": "REAL",
        "int": "INTEGER",
        "bool": "INTEGER",
        "datetime": "TEXT",
        "text": "TEXT",
    }
    add_column = "ALTER TABLE {table} ADD COLUMN {column} {type}"

    def __init__(self, path: str) -> None:
        if not path:
            raise ValueError("the URI names no database file")
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.connection = sqlite3.connect(path, isolation_level=None)
        # connect() is lazy: read the schema so that a non-database file fails here.
        self.connection.execute("PRAGMA schema_version")

    @staticmethod
    def quote(name: str) -> str:
        return _quote(name)

    def columns(self, table: str) -> set[str]:
        return {row[1] for row in self.connection.execute(f"PRAGMA table_info({_quote(table)})")}

    def execute(self, statement: str, params: Sequence = ()) -> None:
        self.connection.execute(statement, params)

    def executemany(self, statement: str, rows: Iterator[tuple]) -> None:
        self.connection.executemany(statement, rows)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.connection.execute("BEGIN")
        try:
            yield
        except BaseException:
            self.connection.execute("ROLLBACK")
            raise
        self.connection.execute("COMMIT")

    def close(self) -> None:
        self.connection.close()


class _Postgres:
    """A PostgreSQL database through psycopg 3."""

    placeholder = "%s"
    types = {
        "float": "DOUBLE PRECISION",
        "int": "BIGINT",
        "bool": "BOOLEAN",
        "datetime": "TIMESTAMP",
        "text": "TEXT",
    }
    add_column = "ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column} {type}"

    def __init__(self, uri: str) -> None:
        try:
            import psycopg
            from psycopg.conninfo import conninfo_to_dict
        except ImportError as exc:
            raise ConfigurationError(
                f"Writing to {_redact(uri, uri)} needs psycopg 3, which is not installed: "
                "pip install assume[postgres]"
            ) from exc
        settings = conninfo_to_dict(uri)
        settings.setdefault("connect_timeout", 10)
        self.connection = psycopg.connect(**settings, autocommit=True)

    @staticmethod
    def quote(name: str) -> str:
        # Every statement is sent with parameters, so psycopg reads "%%" in a name as "%".
        return _quote(name).replace("%", "%%")

    def columns(self, table: str) -> set[str]:
        rows = self.connection.execute(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name = %s",
            (table,),
        )
        return {row[0] for row in rows}

    def execute(self, statement: str, params: Sequence = ()) -> None:
        self.connection.execute(statement, params)

    def executemany(self, statement: str, rows: Iterator[tuple]) -> None:
        with self.connection.cursor() as cursor:
            cursor.executemany(statement, rows)

    def transaction(self) -> Any:
        return self.connection.transaction()

    def close(self) -> None:
        self.connection.close()


def _connect(uri: str) -> _Sqlite | _Postgres:
    """Open the database a URI names, or raise ConfigurationError naming the URI and cause."""
    try:
        if uri.startswith("sqlite:///"):
            return _Sqlite(uri.removeprefix("sqlite:///"))
        match = re.match(r"(postgres|postgresql)(\+\w+)?://", uri)
        if match:
            return _Postgres("postgresql://" + uri[match.end() :])
    except ConfigurationError:
        raise
    except Exception as exc:  # the drivers raise many types: all mean "cannot use this database"
        cause = _redact(" ".join(str(exc).split()) or type(exc).__name__, uri)
        end = " " if cause[-1] in ".?!" else ". "
        raise ConfigurationError(
            f"Cannot open the output database {_redact(uri, uri)}: {cause}{end}"
            "Check database_uri (for PostgreSQL also that the server is running and reachable)."
        ) from exc
    raise ConfigurationError(
        f"Unsupported output database URI {_redact(uri, uri)}: use sqlite:///path/to/file.db "
        "or postgresql://user@host:port/database."
    )


class SqlWriter:
    """Writes tables to SQLite or PostgreSQL, creating tables and columns as needed.

    The first write of a table in this run deletes that table's rows of an earlier
    run with the same ``simulation`` value, so a rerun replaces its output.
    """

    def __init__(self, uri: str, simulation_id: str) -> None:
        self.simulation_id = simulation_id
        self._database = _connect(uri)
        self._started: set[str] = set()

    def write(self, table: str, columns: dict[str, ColumnValues]) -> None:
        """Insert rows in one transaction; NaN and None become NULL."""
        converted = _to_columns(table, columns)
        db = self._database
        name = db.quote(table)
        with db.transaction():
            existing = db.columns(table)
            if table not in self._started and "simulation" in existing:
                db.execute(
                    f"DELETE FROM {name} WHERE {db.quote('simulation')} = {db.placeholder}",
                    (self.simulation_id,),
                )
            # Empty lists have no type, so a write without rows leaves the schema alone.
            if any(len(c.values) for c in converted.values()):
                self._add_columns(table, converted, existing)
                column_list = ", ".join(db.quote(column) for column in converted)
                placeholders = ", ".join([db.placeholder] * len(converted))
                db.executemany(
                    f"INSERT INTO {name} ({column_list}) VALUES ({placeholders})",
                    zip(*(c.values for c in converted.values()), strict=True),
                )
        self._started.add(table)

    def _add_columns(self, table: str, converted: dict[str, _Column], existing: set[str]) -> None:
        """Create the table, or add the columns it lacks, with types from the data."""
        db = self._database
        if not existing:
            definitions = ", ".join(
                f"{db.quote(column)} {db.types[c.kind]}" for column, c in converted.items()
            )
            db.execute(f"CREATE TABLE IF NOT EXISTS {db.quote(table)} ({definitions})")
            return
        for column, c in converted.items():
            if column not in existing:
                db.execute(
                    db.add_column.format(
                        table=db.quote(table), column=db.quote(column), type=db.types[c.kind]
                    )
                )

    def close(self) -> None:
        """Close the database connection."""
        self._database.close()


def open_writers(
    export_csv_path: str | None, database_uri: str | None, simulation_id: str
) -> list[TableWriter]:
    """The writers for whichever of a CSV folder and a database URI is given."""
    writers: list[TableWriter] = []
    if export_csv_path:
        writers.append(CsvWriter(export_csv_path, simulation_id))
    if database_uri:
        writers.append(SqlWriter(database_uri, simulation_id))
    return writers
