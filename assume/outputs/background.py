"""Writing results in a separate process, so that formatting CSV text and talking to a
database use a second core while the simulation goes on.

The writer process is forked (where the platform can fork) and opens the writers itself;
the simulation hands it tables through a pipe. A thread of the simulation's process writes
them into the pipe, so the simulation goes on while the writer process takes them (it reads a
pipe of 64 KB while it formats text, and a table of a thousand units' dispatch is several
hundred KB). The columns' memory goes into the pipe as it is, behind a JSON header that names
each column's dtype and shape (see :func:`_send_item`): pickling the tables into one bytes
object first copied a year's 3.5 GB of results once more in the simulation's process, holding
the GIL. Nothing is unpickled. An error in the writer process, or in handing a table over,
reaches the simulation at the next write or at :meth:`BackgroundWriter.close`.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import queue
import threading
from multiprocessing.connection import Connection

import numpy as np

from assume.errors import AssumeError, ConfigurationError

logger = logging.getLogger(__name__)

_READY = "ready"
_GONE = "gone"  # the simulation's end of the pipe closed without the final None
# tables received but not yet written; beyond this the simulation waits (it holds about
# ten days of hourly results of a thousand units)
QUEUED_TABLES = 64
# tables handed over but not yet in the pipe; beyond this the simulation waits
HANDED_TABLES = 16


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
        # the last message: the first failure again (it may not have been read yet)
        connection.send(("closed", failure))
    except OSError:
        pass  # nobody is listening any more


def _send_item(connection: Connection, item) -> None:
    """Send ``item`` (``(table, columns, merged)``, or None for the end): a JSON header, then
    the memory of each array column as it is, not copied in this process. Lists and arrays of
    Python objects travel inside the header as JSON. :func:`_receive_item` takes it."""
    if item is None:
        connection.send_bytes(b"null")
        return
    table, columns, merged = item
    described, arrays = [], []
    for name, values in columns.items():
        if isinstance(values, np.ndarray) and not values.dtype.hasobject:
            values = np.ascontiguousarray(values)
            described.append([name, values.dtype.str, values.shape])
            arrays.append(values)
        else:  # (a TypeError names what JSON cannot hold, and the table is not written)
            objects = isinstance(values, np.ndarray)
            listed = values.tolist() if objects else values
            described.append([name, "json", [objects, listed]])
    header = json.dumps([table, merged, described], default=_plain)
    connection.send_bytes(header.encode())
    for values in arrays:  # as bytes: datetime64 has no buffer format of its own
        connection.send_bytes(values.reshape(-1).view(np.uint8) if values.dtype.itemsize else b"")


def _plain(value):
    """A numpy scalar in a list or object column as the Python value it holds."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} cannot be written")


def _receive_item(connection: Connection):
    """An item that :func:`_send_item` sent; array columns are read-only arrays over the
    received bytes."""
    header = json.loads(connection.recv_bytes())
    if header is None:
        return None
    table, merged, described = header
    columns = {}
    for name, dtype, shape in described:
        if dtype == "json":
            objects, listed = shape
            columns[name] = _object_array(listed) if objects else listed
        else:
            data = connection.recv_bytes()
            dtype = np.dtype(dtype)
            if dtype.itemsize:
                columns[name] = np.frombuffer(data, dtype).reshape(shape)
            else:  # (text of length 0)
                columns[name] = np.zeros(shape, dtype)
    return table, columns, merged


def _object_array(listed: list) -> np.ndarray:
    array = np.empty(len(listed), dtype=object)
    for position, value in enumerate(listed):
        array[position] = value
    return array


def _receive(connection: Connection, tables: queue.Queue) -> None:
    """Move tables from the pipe to ``tables`` until the end (None) or the pipe's end."""
    while True:
        try:
            item = _receive_item(connection)
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
        self._outbox: queue.Queue = queue.Queue(HANDED_TABLES)
        self._handing_failed: str | None = None
        # started with the first table, so that worker processes forked before that
        # (assume -p) do not inherit a thread that holds the outbox's lock
        self._sender: threading.Thread | None = None

    def _hand_over(self) -> None:
        """Move tables from the outbox into the pipe, the final None included. A table that
        cannot be sent is kept as the reason for the simulation to raise; if the pipe broke
        (the writer process ended), the rest is dropped too."""
        broken = False
        while True:
            item = self._outbox.get()
            if not broken:
                try:
                    _send_item(self._connection, item)
                except Exception as error:
                    broken = isinstance(error, OSError | EOFError)
                    table = "the end of the results" if item is None else f"table {item[0]}"
                    self._handing_failed = self._handing_failed or (
                        f"could not hand {table} to the writer process "
                        f"({type(error).__name__}: {error})"
                    )
            if item is None:
                return

    def _ended_early(self) -> str:
        self._process.join()
        ended = (
            f"the writer process ended (exit code {self._process.exitcode}) before it had "
            "written everything; the result files may be incomplete"
        )
        return f"{self._handing_failed}; {ended}" if self._handing_failed else ended

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
        if self._process is None:
            raise AssumeError(f"output writer: table {table} written after close")
        try:
            # the writer process reported an error, or ended
            answer = self._connection.recv() if self._connection.poll() else None
        except (EOFError, OSError):
            answer = ("error", "AssumeError", self._ended_early())
        if answer is not None:
            self._raise_if_failed(answer)
        if self._handing_failed is not None:
            raise AssumeError(f"output writer: {self._handing_failed}")
        # the arrays must not change until the sender has written them into the pipe: the
        # output role hands over tables it merged for this write and keeps no reference to them
        self._hand((table, columns, merged))

    def _hand(self, item) -> None:
        """Give ``item`` to the sender thread (started with the first one)."""
        if self._sender is None:
            self._sender = threading.Thread(
                target=self._hand_over, name="output-sender", daemon=True
            )
            self._sender.start()
        self._outbox.put(item)

    def close(self) -> None:
        """Wait until everything handed over is written."""
        if self._process is None:
            return
        failure = None
        try:
            self._hand(None)
            self._sender.join()
            while True:  # up to the writer process's last message
                answer = self._connection.recv()
                if answer[0] == "closed":
                    failure = failure or answer[1]
                    break
                failure = failure or answer
        except (EOFError, OSError):
            failure = failure or ("error", "AssumeError", self._ended_early())
        if failure is None and self._handing_failed is not None:
            failure = ("error", "AssumeError", self._handing_failed)
        self._process.join()
        self._process = None
        self._connection.close()
        if failure is not None:
            self._raise_if_failed(failure)
