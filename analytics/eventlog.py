"""Read and write event logs: one record per line as JSON (``records.to_dict``), optionally gzip.

This is the only analytics module that touches files. Lines may also be wire payloads
(``plant_sim.payloads``): their ``run_id``, ``ts`` and ``ts_ms`` keys are ignored.
"""

from __future__ import annotations

import gzip
from collections.abc import Collection, Iterable, Iterator
from dataclasses import fields
from pathlib import Path
from typing import IO

import orjson

from plant_sim.gc_pause import no_gc
from plant_sim.records import RECORD_TYPES, Record, RunStart, StateChange, from_dict
from plant_sim.states import StationState

_WIRE_KEYS = ("ts", "ts_ms")
_STATES = {s.value: s for s in StationState}


class EventLogError(ValueError):
    """An event log that cannot be read; the message names the file and line."""


def _open(path: Path, mode: str) -> IO[bytes]:
    """Open a plain or gzip file in binary mode (level 6: level 9 costs far more time)."""
    if path.suffix == ".gz":
        return gzip.open(path, mode, compresslevel=6)  # type: ignore[return-value]
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
        rec.state = _STATES.get(rec.state) or StationState(rec.state)  # type: ignore[union-attr]
    return rec


#: Record kinds the KPI computation reads (process samples and buffer levels are not needed).
KPI_KINDS = frozenset(
    {
        "run_start",
        "run_end",
        "state",
        "part",
        "release",
        "exit",
        "order",
        "stock",
        "shift",
        "scenario_event",
    }
)


def _skip_prefixes(kinds: Collection[str] | None) -> tuple[bytes, ...]:
    """Return line prefixes of the kinds to skip without parsing (our writers put kind first)."""
    if kinds is None:
        return ()
    return tuple(b'{"kind":"' + k.encode() + b'"' for k in RECORD_TYPES if k not in kinds)


def iter_event_log(path: str | Path, kinds: Collection[str] | None = None) -> Iterator[Record]:
    """Yield the records of an event log file. Raises ``EventLogError`` naming the line.

    With ``kinds``, only records of those kinds are returned; others are skipped cheaply.
    """
    p = Path(path)
    skip = _skip_prefixes(kinds)
    try:
        fh = _open(p, "rb")
    except OSError as exc:
        raise EventLogError(f"{p}: cannot open event log ({exc.strerror})") from exc
    with fh:
        for n, line in enumerate(fh, 1):
            if (skip and line.startswith(skip)) or not line.strip():
                continue
            try:
                data = orjson.loads(line)
                if not isinstance(data, dict) or "kind" not in data:
                    raise ValueError("expected a JSON object with a 'kind' key")
                if kinds is not None and data["kind"] not in kinds:
                    continue
                yield _record(data)
            except (ValueError, orjson.JSONDecodeError) as exc:
                raise EventLogError(f"{p}:{n}: {exc}") from exc


def read_event_log(path: str | Path, kinds: Collection[str] | None = None) -> list[Record]:
    """Return the records of an event log file (JSON lines, ``.gz`` for gzip).

    ``kinds`` keeps only those record kinds (e.g. ``KPI_KINDS``).
    """
    with no_gc():
        return list(iter_event_log(path, kinds))


_NAMES = {cls: tuple(f.name for f in fields(cls)) for cls in RECORD_TYPES.values()}


def _as_dict(rec: Record) -> dict:
    """Return ``records.to_dict(rec)`` without ``asdict``'s deep copy (records are flat)."""
    out = {"kind": rec.kind}
    for name in _NAMES[type(rec)]:
        out[name] = getattr(rec, name)
    return out


def write_event_log(records: Iterable[Record], path: str | Path) -> int:
    """Write records as JSON lines (gzip for ``.gz``); return how many were written."""
    n = 0
    dumps = orjson.dumps
    with _open(Path(path), "wb") as fh, no_gc():
        for rec in records:
            fh.write(dumps(_as_dict(rec)) + b"\n")
            n += 1
    return n
