"""Writing results in a separate process, so that formatting CSV text and talking to a
database use a second core while the simulation goes on.

The writer process is forked (where the platform can fork) and opens the writers itself;
the simulation hands it tables through a pipe. An error in the writer process reaches the
simulation at the next write or at :meth:`BackgroundWriter.close`.
"""

from __future__ import annotations

import logging
import multiprocessing
import queue
import threading
from multiprocessing.connection import Connection

from assume.errors import AssumeError, ConfigurationError

logger = logging.getLogger(__name__)

_READY = "ready"
_GONE = "gone"  # the simulation's end of the pipe closed without the final None
# tables received but not yet written; beyond this the simulation waits (it holds about
# ten days of hourly results of a thousand units)
QUEUED_TABLES = 64


def _serve(
    connection: Connection, parent_end: Connection, export_csv_path, database_uri, simulation_id
) -> None:
    from assume.distributed.parallel import name_process
    from assume.outputs.role import completed
    from assume.outputs.writers import open_writers

    name_process("assume-output")

    # a forked child holds the parent's end too: close it, so that the pipe ends (EOFError)
    # when the simulation process is gone
    parent_end.close()
    try:
        writers = open_writers(export_csv_path, database_uri, simulation_id)
    except Exception as error:  # reported to the simulation, which raises it
        connection.send(("error", type(error).__name__, str(error)))
        return
    connection.send((_READY,))
    # a thread takes tables off the pipe while this one writes: otherwise the simulation's
    # send blocks whenever the pipe is full, for as long as the previous table takes to write
    tables: queue.Queue = queue.Queue(QUEUED_TABLES)
    threading.Thread(target=_receive, args=(connection, tables), daemon=True).start()
    failure = None
    while True:
        item = tables.get()
        if item is _GONE:
            logger.error("output writer: the simulation process is gone; results end here")
            break
        if item is None:
            break
        if failure is not None:
            continue
        table, columns, merged = item
        try:
            if merged:
                columns = completed(table, columns, simulation_id)
            for writer in writers:
                writer.write(table, columns)
        except Exception as error:
            failure = ("error", type(error).__name__, f"writing table {table}: {error}")
            connection.send(failure)
    for writer in writers:
        try:
            writer.close()
        except Exception as error:
            failure = failure or ("error", type(error).__name__, str(error))
    try:
        connection.send(failure or ("closed",))
    except OSError:
        pass  # nobody is listening any more


def _receive(connection: Connection, tables: queue.Queue) -> None:
    """Move tables from the pipe to ``tables`` until the end (None) or the pipe's end."""
    while True:
        try:
            item = connection.recv()
        except (EOFError, OSError):
            tables.put(_GONE)
            return
        tables.put(item)
        if item is None:
            return


class BackgroundWriter:
    """A :class:`~assume.outputs.writers.TableWriter` that writes CSV files and/or a database
    from another process.

    It also completes the output role's merged tables there (:meth:`write_merged`): sorting
    them and adding the simulation column takes that work, and the column's bytes in the
    pipe, off the simulation's process."""

    completes_tables = True

    def __init__(self, export_csv_path: str | None, database_uri: str | None, simulation_id: str):
        methods = multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
        self._connection, child = context.Pipe()
        self._process = context.Process(
            target=_serve,
            args=(child, self._connection, export_csv_path, database_uri, simulation_id),
            name="output-writer",
            daemon=True,
        )
        self._process.start()
        child.close()
        self._raise_if_failed(self._connection.recv())

    def _raise_if_failed(self, answer) -> None:
        if answer[0] == "error":
            _, kind, message = answer
            error = ConfigurationError if kind == "ConfigurationError" else AssumeError
            raise error(f"output writer: {message}")

    def write(self, table: str, columns: dict) -> None:
        self._send(table, columns, merged=False)

    def write_merged(self, table: str, columns: dict) -> None:
        """Write a table as the output role merged it, after
        :func:`~assume.outputs.role.completed` (in the writer process)."""
        self._send(table, columns, merged=True)

    def _send(self, table: str, columns: dict, merged: bool) -> None:
        if self._connection.poll():  # the writer process reported an error
            self._raise_if_failed(self._connection.recv())
        self._connection.send((table, columns, merged))

    def close(self) -> None:
        """Wait until everything handed over is written."""
        if self._process is None:
            return
        self._connection.send(None)
        answer = self._connection.recv()
        while answer[0] == "error" and self._connection.poll(60):
            closing = self._connection.recv()
            answer = answer if closing[0] == "closed" else closing
        self._process.join()
        self._process = None
        self._connection.close()
        self._raise_if_failed(answer)
