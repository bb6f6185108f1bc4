"""The bounded on-disk buffer (store-and-forward): an SQLite queue of line-protocol lines.

Rows are appended by the ingest stage in one transaction together with the sequencer state and
newly seen runs, so a crash never separates them; the writer reads the oldest rows, writes them
to InfluxDB and only then deletes them (``ack``). Rows keep their insertion order, so replay
after an outage is in order. The file survives a gateway restart; with ``fsync=False``
(``synchronous=NORMAL`` in WAL mode) a process crash loses nothing committed, a power cut may
lose the last commits.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

_SCHEMA = """
CREATE TABLE IF NOT EXISTS points (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    source TEXT NOT NULL,
    received_ms INTEGER NOT NULL,
    line TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS seq_state (series TEXT PRIMARY KEY, state BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS runs (run_id TEXT PRIMARY KEY, payload BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class Row(NamedTuple):
    """One buffered point."""

    id: int
    source: str
    received_ms: int
    line: str


class DiskBuffer:
    """SQLite-backed FIFO of points, bounded by ``max_records``; thread-safe."""

    def __init__(self, path: Path, max_records: int, fsync: bool = False) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.max_records = max_records
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={'FULL' if fsync else 'NORMAL'}")
        self._db.executescript(_SCHEMA)
        self._count = self._db.execute("SELECT count(*) FROM points").fetchone()[0]

    def __len__(self) -> int:
        return self._count

    def free(self) -> int:
        """Return how many more rows fit."""
        return max(0, self.max_records - self._count)

    def append(
        self,
        rows: list[tuple[str, int, str]],
        seq_state: dict[str, bytes] | None = None,
        forget: Iterable[str] = (),
        runs: Iterable[tuple[str, bytes]] = (),
    ) -> int:
        """Store ``(source, received_ms, line)`` rows and state in one transaction.

        When the rows do not fit, the oldest rows are deleted first; returns how many were dropped
        (the caller implements the *block* policy by waiting for ``free()`` before calling).
        """
        with self._lock:
            drop = max(0, self._count + len(rows) - self.max_records)
            cur = self._db.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                if drop:
                    cur.execute(
                        "DELETE FROM points WHERE id IN "
                        "(SELECT id FROM points ORDER BY id LIMIT ?)",
                        (drop,),
                    )
                    drop = cur.rowcount
                cur.executemany(
                    "INSERT INTO points (source, received_ms, line) VALUES (?, ?, ?)", rows
                )
                if seq_state:
                    cur.executemany(
                        "INSERT OR REPLACE INTO seq_state (series, state) VALUES (?, ?)",
                        seq_state.items(),
                    )
                cur.executemany("DELETE FROM seq_state WHERE series = ?", ((s,) for s in forget))
                cur.executemany("INSERT OR IGNORE INTO runs (run_id, payload) VALUES (?, ?)", runs)
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            self._count += len(rows) - drop
            return drop

    def peek(self, limit: int) -> list[Row]:
        """Return up to ``limit`` oldest rows without removing them."""
        with self._lock:
            cur = self._db.execute(
                "SELECT id, source, received_ms, line FROM points ORDER BY id LIMIT ?", (limit,)
            )
            return [Row(*r) for r in cur.fetchall()]

    def ack(self, upto_id: int) -> None:
        """Remove every row with ``id <= upto_id`` (written to InfluxDB)."""
        with self._lock:
            cur = self._db.execute("DELETE FROM points WHERE id <= ?", (upto_id,))
            self._count = max(0, self._count - cur.rowcount)

    def remove(self, ids: Iterable[int]) -> None:
        """Remove single rows (set aside as rejected by InfluxDB)."""
        with self._lock:
            cur = self._db.executemany("DELETE FROM points WHERE id = ?", ((i,) for i in ids))
            self._count = max(0, self._count - cur.rowcount)

    def seq_states(self) -> list[tuple[str, bytes]]:
        """Return every persisted sequencer state."""
        with self._lock:
            return self._db.execute("SELECT series, state FROM seq_state").fetchall()

    def runs(self) -> list[tuple[str, bytes]]:
        """Return every persisted ``run_start`` payload."""
        with self._lock:
            return self._db.execute("SELECT run_id, payload FROM runs").fetchall()

    def get_meta(self, key: str) -> str | None:
        """Return a stored value (e.g. the detected InfluxDB API)."""
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
            return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        """Store a value."""
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()
