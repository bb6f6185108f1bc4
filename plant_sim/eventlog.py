"""The ground-truth event log of a run, in memory and as a JSON Lines file.

Format: JSON Lines (optionally gzip-compressed when the name ends in ``.gz``), one record per
line in emission order, ``run_start`` first and ``run_end`` last. Why JSON Lines: it streams (a
live run can append and a reader can tail it), every line is self-describing by its ``kind``,
the shapes are the same as the MQTT payloads, and ``jq``, pandas and DuckDB read it as it is.
Floats are written as Python's shortest repr, so a log round-trips exactly.
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

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
        """Write the log to ``path`` (gzip if it ends in ``.gz``)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with _open(path, "wb") as fh:
            write_records(fh, self.records)

    @classmethod
    def load(cls, path: str | Path) -> EventLog:
        """Read a log written by ``save``; raises ``EventLogError`` naming the line."""
        path = Path(path)
        if not path.exists():
            raise EventLogError(f"{path}: no such file")
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
    fh.writelines(dumps(to_dict(r)) + b"\n" for r in records)


def _open(path: Path, mode: str) -> IO[bytes]:
    if path.suffix == ".gz":
        return gzip.open(path, mode)  # type: ignore[return-value]
    return open(path, mode)
