"""The ground-truth event log of a run: in memory, and its files (JSON Lines or Parquet).

The format comes from the file name: ``.parquet`` is one typed table (``plant_sim.parquet_log``);
``.jsonl`` is JSON Lines, gzip-compressed as ``.jsonl.gz`` (logs are written under these names
only; a reader takes any other name as JSON Lines, gzip for ``.gz``): one record per line
in emission order, ``run_start`` first and ``run_end`` last. Why JSON Lines: it streams (a live
run can append and a reader can tail it), every line is self-describing by its ``kind``, the
shapes are the same as the MQTT payloads, and ``jq``, pandas and DuckDB read it as it is. Floats
are written as Python's shortest repr, so a log round-trips exactly. Both formats give the same
bytes for the same records: the gzip header carries no file name and no time.

Writers (``open_writer``) take records in batches while the model runs and hold none of them.
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Protocol

import orjson

from plant_sim.records import Record, from_dict, to_dict


class EventLogError(ValueError):
    """A log file that cannot be read; the message names the file and line."""


@dataclass
class EventLog:
    """An ordered list of records."""

    records: list[Record] = field(default_factory=list)

    def __iter__(self) -> Iterator[Record]:
        return iter(self.records)

    def __len__(self) -> int:
        return len(self.records)

    def of_kind(self, kind: str) -> list[Record]:
        """Records of one kind, in order."""
        return [r for r in self.records if r.kind == kind]

    def save(self, path: str | Path) -> None:
        """Write the log to ``path`` (``.parquet``, ``.jsonl`` or ``.jsonl.gz``)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        writer = open_writer(path)
        try:
            writer.write(self.records)
        finally:
            writer.close()

    @classmethod
    def load(cls, path: str | Path) -> EventLog:
        """Read a log written by ``save``; raises ``EventLogError`` naming the line."""
        path = Path(path)
        if not path.exists():
            raise EventLogError(f"{path}: no such file")
        if is_parquet(path):
            from plant_sim.parquet_log import read_table, table_to_records

            return cls(table_to_records(read_table(path)))
        records = []
        with _open(path, "rb") as fh:
            for number, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    records.append(from_dict(orjson.loads(line)))
                except (orjson.JSONDecodeError, ValueError, TypeError) as exc:
                    raise EventLogError(f"{path}:{number}: {exc}") from None
        return cls(records)

    def digest(self) -> str:
        """SHA-256 of the canonical serialisation (for determinism checks)."""
        h = hashlib.sha256()
        for record in self.records:
            h.update(orjson.dumps(to_dict(record), option=orjson.OPT_SORT_KEYS))
            h.update(b"\n")
        return h.hexdigest()


def write_records(fh: IO[bytes], records: Iterable[Record]) -> None:
    """Write records as JSON lines to a binary file object."""
    dumps = orjson.dumps
    fh.write(b"".join([dumps(to_dict(r)) + b"\n" for r in records]))


#: gzip level of ``.jsonl.gz`` logs: 6 compresses a week's log to a tenth; 9 costs far more.
GZIP_LEVEL = 6


#: The names an event log is written under; the format is chosen from the name.
LOG_SUFFIXES = (".parquet", ".jsonl", ".jsonl.gz")


def check_log_name(path: str | Path) -> None:
    """Raise ``ValueError`` unless ``path``'s name gives an event log format (``LOG_SUFFIXES``):
    a log under another name (``run.csv``) would be JSON Lines that its name misstates."""
    if not Path(path).name.lower().endswith(LOG_SUFFIXES):
        raise ValueError(
            f"{Path(path).name}: the name gives the format: end it in {', '.join(LOG_SUFFIXES)}"
        )


def is_parquet(path: str | Path) -> bool:
    """Return whether ``path`` names a Parquet event log (by its name)."""
    return Path(path).suffix.lower() == ".parquet"


def open_gzip(path: Path, mode: str) -> IO[bytes]:
    """Open a gzip file; written ones have no name and time in the header (same bytes)."""
    if "r" in mode:
        return gzip.open(path, mode)  # type: ignore[return-value]
    raw = open(path, mode)  # noqa: SIM115 (closed with the GzipFile below)
    gz = gzip.GzipFile(filename="", mode=mode, fileobj=raw, compresslevel=GZIP_LEVEL, mtime=0)
    gz.myfileobj = raw  # closing the GzipFile closes the file too
    return gz  # type: ignore[return-value]


def _open(path: Path, mode: str) -> IO[bytes]:
    if path.suffix.lower() == ".gz":
        return open_gzip(path, mode)
    return open(path, mode)


class LogWriter(Protocol):
    """A sink for a run's records, given in batches in emission order."""

    path: Path

    def write(self, records: Sequence[Record]) -> None: ...

    def close(self) -> None: ...


class JsonlLogWriter:
    """Write records as JSON Lines (gzip for ``.gz``), one batch at a time."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.rows = 0
        self._fh = _open(self.path, "wb")

    def write(self, records: Sequence[Record]) -> None:
        """Append ``records``."""
        write_records(self._fh, records)
        self.rows += len(records)

    def close(self) -> None:
        """Flush and close the file."""
        self._fh.close()


def open_writer(path: str | Path) -> LogWriter:
    """Return the writer for ``path``'s format: Parquet for ``.parquet``, JSON Lines for
    ``.jsonl`` and ``.jsonl.gz`` (gzip); raises ``ValueError`` for another name."""
    check_log_name(path)
    if is_parquet(path):
        from plant_sim.parquet_log import ParquetLogWriter

        return ParquetLogWriter(path)
    return JsonlLogWriter(path)
