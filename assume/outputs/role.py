"""The output role: buffers result rows and writes them to CSV files and/or a database.

Rows are flushed every ``save_frequency_hours`` of simulation time and at the end; a run
that stops early still flushes everything received (see :meth:`OutputRole.flush`).
"""

from __future__ import annotations

import logging

import numpy as np

from assume.messages import OutputRows
from assume.messaging import MessengerRole
from assume.outputs.kpis import KpiAccumulator

logger = logging.getLogger(__name__)

# tables whose rows come from several unit types get one fixed set of columns
FIXED_COLUMNS = {
    "unit_dispatch": ("time", "unit", "power", "energy_cashflow", "energy_generation_costs", "soc"),
}


def _merge(parts: list[dict], columns: tuple[str, ...] | None) -> dict[str, np.ndarray]:
    """Concatenate column dicts; columns missing in a part are filled with NaN."""
    names = list(columns) if columns else list(dict.fromkeys(k for p in parts for k in p))
    merged = {}
    for name in names:
        pieces = []
        for part in parts:
            length = len(next(iter(part.values()))) if part else 0
            pieces.append(np.asarray(part[name]) if name in part else np.full(length, np.nan))
        merged[name] = np.concatenate(pieces) if pieces else np.array([])
    return merged


# rows are written sorted by these columns, so that files do not depend on the order in
# which messages arrived (which differs between one process and distributed runs)
SORT_KEYS = {
    "market_meta": ("market_id", "product_start", "product_end"),
    "market_orders": ("market_id", "start_time", "end_time", "unit_id", "bid_id"),
    "market_dispatch": ("market_id", "datetime", "unit_id"),
    "unit_dispatch": ("time", "unit"),
}


def _sorted(table: str, columns: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    keys = SORT_KEYS.get(table, ("index",) if table.endswith("_meta") else ())
    keys = [columns[k] for k in keys if k in columns]
    if not keys:
        return columns
    order = np.lexsort(keys[::-1])
    return {name: values[order] for name, values in columns.items()}


def completed(table: str, columns: dict[str, np.ndarray], simulation_id: str) -> dict:
    """A merged table as the writers take it: rows sorted (see SORT_KEYS), and the
    ``simulation`` column added."""
    columns = dict(_sorted(table, columns))
    length = len(next(iter(columns.values()))) if columns else 0
    columns["simulation"] = np.full(length, simulation_id)
    return columns


class OutputRole(MessengerRole):
    """Collects :class:`OutputRows` and writes them through the configured writers.

    The world calls :meth:`before_step` between simulation steps, when every message of the
    finished step has arrived; flushes happen there, so each flush holds the same rows in
    every run and every distributed mode."""

    def __init__(
        self, writers: list, simulation_id: str, save_frequency_hours: float | None, start: int = 0
    ):
        super().__init__()
        self.writers = writers
        self.simulation_id = simulation_id
        self.flush_every = save_frequency_hours * 3600.0 if save_frequency_hours else None
        self.next_flush = start + self.flush_every if self.flush_every else None
        self.buffers: dict[str, list[dict]] = {}
        self.kpis = KpiAccumulator()
        self.rows_written = 0

    def setup(self) -> None:
        self.on(OutputRows, self.handle_rows)

    def handle_rows(self, content: OutputRows, meta: dict) -> None:
        parts = content.columns if isinstance(content.columns, list) else [content.columns]
        self.buffers.setdefault(content.table, []).extend(parts)
        if content.table == "market_meta":
            for part in parts:
                self.kpis.add_market_meta(part)

    def before_step(self, moment: int) -> None:
        """The clock is about to move to ``moment``: flush if a save interval has passed."""
        if self.next_flush is not None and moment >= self.next_flush:
            self.flush()
            while self.next_flush <= moment:
                self.next_flush += self.flush_every

    def flush(self) -> int:
        """Write all buffered rows; returns the number of rows written."""
        written = 0
        for table in sorted(self.buffers):
            parts = self.buffers[table]
            if not parts:
                continue
            columns = _merge(parts, FIXED_COLUMNS.get(table))
            complete = None
            for writer in self.writers:
                if getattr(writer, "completes_tables", False):
                    # sorted in the writer's own process, on the other core
                    writer.write_merged(table, columns)
                else:
                    complete = complete or completed(table, columns, self.simulation_id)
                    writer.write(table, complete)
            written += len(next(iter(columns.values())))
            self.buffers[table] = []
        self.rows_written += written
        return written

    def finish(self) -> int:
        """Flush the rest, write the KPIs and close the writers."""
        written = self.flush()
        kpis = self.kpis.table()
        if kpis:
            kpis["simulation"] = np.full(len(kpis["variable"]), self.simulation_id)
            for writer in self.writers:
                writer.write("kpis", kpis)
        for writer in self.writers:
            writer.close()
        self.writers = []
        return written
