"""The bounded on-disk buffer (store-and-forward): an SQLite queue of line-protocol chunks.

Each ingest commit appends one *chunk* (its lines, joined, plus one source code per line) in one
transaction together with the sequencer state and newly seen runs, so a crash never separates
them; the writer reads the oldest chunks, writes them to InfluxDB and only then deletes them
(``ack``). Chunks keep their insertion order, so replay after an outage is in order. The bound
counts lines; *drop oldest* deletes the oldest lines (trimming a chunk if needed).
The file survives a gateway restart; with ``fsync=False``
(``synchronous=NORMAL`` in WAL mode) a process crash loses nothing committed, a power cut may
lose the last commits.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

_SCHEMA = """
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    n INTEGER NOT NULL,
    received_ms INTEGER NOT NULL,
    sources TEXT NOT NULL,
    body BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS seq_state (series TEXT PRIMARY KEY, state BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS runs (run_id TEXT PRIMARY KEY, payload BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS held (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL,
    source TEXT NOT NULL,
    topic TEXT,
    payload BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS held_run ON held (run_id);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


MAX_RUNS_STORED = 1_000
"""``run_start`` payloads kept on disk (the oldest beyond are deleted)."""

HELD_MAX_BYTES = 32 * 1024 * 1024
"""Payload bytes of held records (records of runs whose ``run_start`` was not seen)."""

SOURCE_CODES = {"mqtt": "m", "opcua": "o", "_gateway": "g"}
SOURCE_NAMES = {v: k for k, v in SOURCE_CODES.items()}


@dataclass(slots=True)
class HoldChange:
    """Held records to add ``(run_id, source, topic, payload)`` and to release ``(id, size)``;
    ``evicted`` receives those removed because the hold is full."""

    add: list[tuple[str, str, str | None, bytes]] = field(default_factory=list)
    release: list[tuple[int, int]] = field(default_factory=list)
    evicted: list[HeldRecord] = field(default_factory=list)


class Chunk(NamedTuple):
    """Lines committed together: ``sources`` has one code per line (see ``SOURCE_CODES``)."""

    id: int
    n: int
    received_ms: int
    sources: str
    body: bytes


class HeldRecord(NamedTuple):
    """A message of a run whose ``run_start`` the gateway has not seen (yet)."""

    id: int
    run_id: str
    source: str
    topic: str | None
    payload: bytes


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
        row = self._db.execute("SELECT coalesce(sum(n), 0) FROM chunks").fetchone()
        self._count = int(row[0])
        row = self._db.execute("SELECT coalesce(sum(length(payload)), 0) FROM held").fetchone()
        self.held_bytes = int(row[0])

    def __len__(self) -> int:
        return self._count

    def free(self) -> int:
        """Return how many more lines fit."""
        return max(0, self.max_records - self._count)

    def append(
        self,
        chunk: tuple[int, str, list[str]] | None,
        seq_state: dict[str, bytes] | None = None,
        forget: Iterable[str] = (),
        runs: Iterable[tuple[str, bytes]] = (),
        hold: HoldChange | None = None,
    ) -> int:
        """Store one chunk ``(received_ms, sources, lines)`` and state in one transaction.

        When the lines do not fit, the oldest lines are deleted first; returns how many were
        dropped (the caller implements the *block* policy by waiting for ``free()``).
        ``hold`` adds and releases held records in the same transaction; the held records
        over ``HELD_MAX_BYTES`` (oldest first) are removed and put in ``hold.evicted``.
        """
        with self._lock:
            return self._append(chunk, seq_state, forget, runs, hold)

    def append_if_room(self, chunk: tuple[int, str, list[str]], keep_free: int = 0) -> bool:
        """Store ``chunk`` only if it fits with ``keep_free`` lines still free (nothing is
        dropped); return whether it did."""
        with self._lock:
            if self._count + len(chunk[2]) + keep_free > self.max_records:
                return False
            self._append(chunk, None, (), (), None)
            return True

    def _append(
        self,
        chunk: tuple[int, str, list[str]] | None,
        seq_state: dict[str, bytes] | None,
        forget: Iterable[str],
        runs: Iterable[tuple[str, bytes]],
        hold: HoldChange | None,
    ) -> int:
        n = len(chunk[2]) if chunk else 0
        cur = self._db.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            dropped = self._drop_oldest(cur, self._count + n - self.max_records)
            if chunk:
                received_ms, sources, lines = chunk
                cur.execute(
                    "INSERT INTO chunks (n, received_ms, sources, body) VALUES (?, ?, ?, ?)",
                    (n, received_ms, sources, "\n".join(lines).encode()),
                )
            if seq_state:
                cur.executemany(
                    "INSERT OR REPLACE INTO seq_state (series, state) VALUES (?, ?)",
                    seq_state.items(),
                )
            cur.executemany("DELETE FROM seq_state WHERE series = ?", ((s,) for s in forget))
            runs = list(runs)
            if runs:
                cur.executemany("INSERT OR IGNORE INTO runs (run_id, payload) VALUES (?, ?)", runs)
                cur.execute(
                    "DELETE FROM runs WHERE rowid <= (SELECT max(rowid) FROM runs) - ?",
                    (MAX_RUNS_STORED,),
                )
            held_bytes = self._hold(cur, hold) if hold else self.held_bytes
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        self._count += n - dropped
        self.held_bytes = held_bytes
        return dropped

    def _hold(self, cur: sqlite3.Cursor, hold: HoldChange) -> int:
        held_bytes = self.held_bytes
        for hid, size in hold.release:
            cur.execute("DELETE FROM held WHERE id = ?", (hid,))
            held_bytes -= size
        cur.executemany(
            "INSERT INTO held (run_id, source, topic, payload) VALUES (?, ?, ?, ?)", hold.add
        )
        held_bytes += sum(len(h[3]) for h in hold.add)
        while held_bytes > HELD_MAX_BYTES:
            row = cur.execute(
                "SELECT id, run_id, source, topic, payload FROM held ORDER BY id LIMIT 1"
            ).fetchone()
            if row is None:
                break
            cur.execute("DELETE FROM held WHERE id = ?", (row[0],))
            held_bytes -= len(row[4])
            hold.evicted.append(HeldRecord(row[0], row[1], row[2], row[3], bytes(row[4])))
        return held_bytes

    def held_of(self, run_ids: Iterable[str]) -> list[HeldRecord]:
        """Return the held records of these runs, oldest first (they stay held)."""
        out: list[HeldRecord] = []
        with self._lock:
            for run_id in run_ids:
                cur = self._db.execute(
                    "SELECT id, run_id, source, topic, payload FROM held WHERE run_id = ?",
                    (run_id,),
                )
                out += [HeldRecord(r[0], r[1], r[2], r[3], bytes(r[4])) for r in cur]
        out.sort()
        return out

    def held_count(self) -> int:
        """Return how many records are held."""
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM held").fetchone()[0])

    def run_payload(self, run_id: str) -> bytes | None:
        """Return the stored ``run_start`` payload of a run, if any."""
        with self._lock:
            row = self._db.execute(
                "SELECT payload FROM runs WHERE run_id = ?", (run_id,)
            ).fetchone()
        return None if row is None else bytes(row[0])

    def _drop_oldest(self, cur: sqlite3.Cursor, excess: int) -> int:
        dropped = 0
        while excess > 0:
            row = cur.execute(
                "SELECT id, n, sources, body FROM chunks ORDER BY id LIMIT 1"
            ).fetchone()
            if row is None:
                break
            cid, n, sources, body = row
            if n <= excess:
                cur.execute("DELETE FROM chunks WHERE id = ?", (cid,))
                dropped += n
                excess -= n
                continue
            lines = bytes(body).split(b"\n")[excess:]
            cur.execute(
                "UPDATE chunks SET n = ?, sources = ?, body = ? WHERE id = ?",
                (len(lines), sources[excess:], b"\n".join(lines), cid),
            )
            dropped += excess
            excess = 0
        return dropped

    def peek(self, max_lines: int) -> list[Chunk]:
        """Return the oldest chunks, as many as fit ``max_lines`` (at least one)."""
        out: list[Chunk] = []
        total = 0
        with self._lock:
            cur = self._db.execute(
                "SELECT id, n, received_ms, sources, body FROM chunks ORDER BY id LIMIT 1000"
            )
            for row in cur:
                if out and total + row[1] > max_lines:
                    break
                out.append(Chunk(row[0], row[1], row[2], row[3], bytes(row[4])))
                total += row[1]
        return out

    def ack(self, upto_id: int) -> None:
        """Remove every chunk with ``id <= upto_id`` (written to InfluxDB)."""
        with self._lock:
            n = self._db.execute(
                "SELECT coalesce(sum(n), 0) FROM chunks WHERE id <= ?", (upto_id,)
            ).fetchone()[0]
            self._db.execute("DELETE FROM chunks WHERE id <= ?", (upto_id,))
            self._count = max(0, self._count - int(n))

    def seq_states(self) -> list[tuple[str, bytes]]:
        """Return every persisted sequencer state."""
        with self._lock:
            return self._db.execute("SELECT series, state FROM seq_state").fetchall()

    def runs(self, limit: int = MAX_RUNS_STORED) -> list[tuple[str, bytes]]:
        """Return the ``limit`` latest persisted ``run_start`` payloads, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT run_id, payload FROM runs ORDER BY rowid DESC LIMIT ?", (limit,)
            ).fetchall()
        return rows[::-1]

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
