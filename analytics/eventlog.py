"""Read and write event logs: one record per line as JSON (``records.to_dict``), optionally gzip.

This is the only analytics module that touches files. Lines may also be wire payloads
(``plant_sim.payloads``): their ``run_id``, ``ts`` and ``ts_ms`` keys are ignored.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

import orjson

from plant_sim.records import RECORD_TYPES, Record, RunStart, StateChange, from_dict, to_dict
from plant_sim.states import StationState

_WIRE_KEYS = ("ts", "ts_ms")


class EventLogError(ValueError):
    """An event log that cannot be read; the message names the file and line."""


def _open(path: Path, mode: str) -> IO[bytes]:
    """Open a plain or gzip file in binary mode."""
    if path.suffix == ".gz":
        return gzip.open(path, mode)  # type: ignore[return-value]
    return path.open(mode)


def _record(data: dict) -> Record:
    """Build a record fast; fall back to ``from_dict`` for a precise error message."""
    kind = data.pop("kind", None)
    cls = RECORD_TYPES.get(kind)  # type: ignore[arg-type]
    for key in _WIRE_KEYS:
        data.pop(key, None)
    if cls is not RunStart:
        data.pop("run_id", None)
    try:
        rec = cls(**data)  # type: ignore[misc]
    except TypeError:
        data["kind"] = kind
        return from_dict(data)
    if cls is StateChange:
        rec.state = StationState(rec.state)  # type: ignore[union-attr]
    return rec


def iter_event_log(path: str | Path) -> Iterator[Record]:
    """Yield the records of an event log file. Raises ``EventLogError`` naming the line."""
    p = Path(path)
    try:
        fh = _open(p, "rb")
    except OSError as exc:
        raise EventLogError(f"{p}: cannot open event log ({exc.strerror})") from exc
    with fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                data = orjson.loads(line)
                if not isinstance(data, dict) or "kind" not in data:
                    raise ValueError("expected a JSON object with a 'kind' key")
                yield _record(data)
            except (ValueError, orjson.JSONDecodeError) as exc:
                raise EventLogError(f"{p}:{n}: {exc}") from exc


def read_event_log(path: str | Path) -> list[Record]:
    """Return every record of an event log file (JSON lines, ``.gz`` for gzip)."""
    return list(iter_event_log(path))


def write_event_log(records: Iterable[Record], path: str | Path) -> int:
    """Write records as JSON lines (gzip for ``.gz``); return how many were written."""
    n = 0
    with _open(Path(path), "wb") as fh:
        for rec in records:
            fh.write(orjson.dumps(to_dict(rec)))
            fh.write(b"\n")
            n += 1
    return n
