"""Shared fixtures: real databases to write results to."""

import logging
import sqlite3
import uuid
from contextlib import closing

import pytest


@pytest.fixture(autouse=True)
def _restore_logging():
    """The CLI configures logging for its process; undo that after each in-process call."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    loggers = {name: logging.getLogger(name).level for name in ("assume", "mango")}
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
    for name, old in loggers.items():
        logging.getLogger(name).setLevel(old)


POSTGRES_URI = "postgresql://postgres@127.0.0.1:5432/test"


class Database:
    """A database under test: a writer URI and a way to read tables back."""

    def __init__(self, uri: str, query):
        self.uri = uri
        self.query = query

    def rows(self, table: str, columns: str) -> list[tuple]:
        return [tuple(row) for row in self.query(f'SELECT {columns} FROM "{table}" ORDER BY 1, 2')]


@pytest.fixture
def sqlite_database(tmp_path):
    path = tmp_path / "out" / "results.db"

    def query(statement: str) -> list[tuple]:
        path.parent.mkdir(exist_ok=True)
        with closing(sqlite3.connect(path)) as connection, connection:
            return connection.execute(statement).fetchall()

    return Database(f"sqlite:///{path}", query)


@pytest.fixture
def postgres_database():
    psycopg = pytest.importorskip("psycopg")
    try:
        admin = psycopg.connect(POSTGRES_URI, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL not reachable at 127.0.0.1:5432: {exc}")
    schema = f"writers_{uuid.uuid4().hex}"
    admin.execute(f'CREATE SCHEMA "{schema}"')

    def query(statement: str) -> list[tuple]:
        admin.execute(f'SET search_path TO "{schema}"')
        cursor = admin.execute(statement)
        return cursor.fetchall() if cursor.description else []

    yield Database(f"{POSTGRES_URI}?options=-csearch_path%3D{schema}", query)
    admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
    admin.close()
