"""Read and write event logs: JSON Lines (``records.to_dict``, optionally gzip) or Parquet.

This is the only analytics module that touches files; the format comes from the file name
(``plant_sim.eventlog.is_parquet``). JSON lines may also be wire payloads
(``plant_sim.payloads``): their ``run_id``, ``ts`` and ``ts_ms`` keys are ignored.

``read_columns`` gives the KPI columns of a log: a Parquet log column by column without record
objects (``parquet_kinds``, ``columns_arrow``), a JSON Lines log through structs that msgspec
decodes a block at a time (``jsonl_columns``; the record way, ``read_event_log``, for a file
it rejects, to name the bad line).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Collection, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import orjson

from analytics.columns import PlantColumns, columns_by_kind, to_columns
from plant_sim.eventlog import is_parquet, open_gzip, open_writer
from plant_sim.gc_pause import no_gc
from plant_sim.records import (
    RECORD_TYPES,
    Record,
    RunStart,
    StateChange,
    check_types,
    from_dict,
)
from plant_sim.states import StationState

_WIRE_KEYS = ("ts", "ts_ms")
_STATES = {s.value: s for s in StationState}


class EventLogError(ValueError):
    """An event log that cannot be read; the message names the file and line."""


def _open(path: Path, mode: str) -> IO[bytes]:
    """Open a plain or gzip file in binary mode (gzip written without name and time)."""
    if path.suffix.lower() == ".gz":
        return open_gzip(path, mode)
    return path.open(mode)


def _record(data: dict, checked: bool = True) -> Record:
    """Build a record fast, its values checked against the field types unless ``checked`` is
    False; fall back to ``from_dict`` for a precise error message."""
    kind = data.pop("kind", None)
    cls = RECORD_TYPES.get(kind)  # type: ignore[arg-type]
    for key in _WIRE_KEYS:
        data.pop(key, None)
    if cls is not RunStart:
        data.pop("run_id", None)
    try:
        if checked:
            check_types(kind, data)  # type: ignore[arg-type]
        rec = cls(**data)  # type: ignore[misc]
    except (TypeError, KeyError, ValueError):
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


def iter_event_log(
    path: str | Path, kinds: Collection[str] | None = None, checked: bool = True
) -> Iterator[Record]:
    """Yield the records of an event log file. Raises ``EventLogError`` naming the line.

    With ``kinds``, only records of those kinds are returned; others are skipped cheaply.
    ``checked=False`` takes JSON values of other types than a field's (as this reader did
    before it checked them: ``bench/bench_eventlog.py``'s baseline).
    """
    p = Path(path)
    if is_parquet(p):
        yield from _parquet_records(p, kinds)
        return
    skip = _skip_prefixes(kinds)
    try:
        fh = _open(p, "rb")
    except OSError as exc:
        raise EventLogError(f"{p}: cannot open event log ({exc.strerror})") from exc
    n = 0
    with fh:
        try:
            for n, line in enumerate(fh, 1):
                if (skip and line.startswith(skip)) or not line.strip():
                    continue
                try:
                    data = orjson.loads(line)
                    if not isinstance(data, dict) or "kind" not in data:
                        raise ValueError("expected a JSON object with a 'kind' key")
                    kind = data["kind"]  # an unknown kind is not skipped: ``_record`` names it
                    if kinds is not None and kind not in kinds and kind in RECORD_TYPES:
                        continue
                    yield _record(data, checked)
                except (ValueError, orjson.JSONDecodeError) as exc:
                    raise EventLogError(f"{p}:{n}: {exc}") from exc
        except (OSError, EOFError, zlib.error) as exc:  # gzip: not gzip, cut short, corrupt
            raise EventLogError(f"{p}: unreadable after line {n} ({exc})") from exc


def read_event_log(
    path: str | Path, kinds: Collection[str] | None = None, checked: bool = True
) -> list[Record]:
    """Return the records of an event log file (JSON lines, ``.gz`` for gzip).

    ``kinds`` keeps only those record kinds (e.g. ``KPI_KINDS``); ``checked``: as
    ``iter_event_log``.
    """
    with no_gc():
        return list(iter_event_log(path, kinds, checked))


def write_event_log(records: Iterable[Record], path: str | Path) -> int:
    """Write records to ``path`` (``.parquet``, ``.jsonl`` or ``.jsonl.gz``, by the name;
    ``ValueError`` for another name); return how many were written."""
    batch = records if isinstance(records, list) else list(records)
    writer = open_writer(path)
    try:
        with no_gc():
            writer.write(batch)
    finally:
        writer.close()
    return len(batch)


def _parquet_records(path: Path, kinds: Collection[str] | None) -> Iterator[Record]:
    """Yield the records of a Parquet log (only ``kinds`` if given)."""
    from plant_sim.parquet_log import table_to_records

    table = _parquet_table(path, kinds=kinds)
    try:
        yield from table_to_records(table)
    except ValueError as exc:
        raise EventLogError(f"{path}: {exc}") from exc


def _parquet_table(
    path: Path,
    columns: Collection[str] | None = None,
    dictionaries: Collection[str] = (),
    kinds: Collection[str] | None = None,
) -> Any:
    """Read a Parquet log, or raise ``EventLogError`` naming the file."""
    from plant_sim.parquet_log import read_table

    return _reading_parquet(path, lambda: read_table(path, columns, dictionaries, kinds))


def _reading_parquet(path: Path, read: Callable[[], Any]) -> Any:
    """Return ``read()`` of a Parquet log, or raise ``EventLogError`` naming the file."""
    if not path.exists():
        raise EventLogError(f"{path}: cannot open event log (No such file or directory)")
    try:
        return read()
    except (OSError, ValueError) as exc:  # pyarrow's errors derive from these
        raise EventLogError(f"{path}: not a readable Parquet event log ({exc})") from exc


def read_columns(path: str | Path) -> PlantColumns:
    """Return the KPI columns of an event log file (Parquet or JSON Lines, ``.gz`` allowed).

    Raises ``EventLogError`` naming the file (and the line, for JSON Lines).
    """
    from analytics.columns_arrow import DICTIONARY_COLUMNS, NEEDS, kind_columns
    from analytics.parquet_kinds import read_kind_rows

    p = Path(path)
    with no_gc():
        if is_parquet(p):
            tables = _reading_parquet(p, lambda: read_kind_rows(p, NEEDS, DICTIONARY_COLUMNS))
            try:
                return kind_columns(tables, lambda: list(_parquet_records(p, KPI_KINDS)))
            except ValueError as exc:
                raise EventLogError(f"{p}: {exc}") from exc
        by_kind = _fast_records(p)
        records = read_event_log(p, KPI_KINDS) if by_kind is None else []  # names a bad line
        try:
            return to_columns(records) if by_kind is None else columns_by_kind(by_kind)
        except ValueError as exc:
            raise EventLogError(f"{p}: {exc}") from exc


def _fast_records(path: Path) -> dict[type, list] | None:
    """Return the KPI records of a JSON Lines log by class (``jsonl_columns``), or ``None``
    when a line needs the record way (which accepts the same lines and names a bad one)."""
    from isal.igzip_lib import IsalError

    from analytics.jsonl_columns import NotFastError, read_records

    try:
        fh = _open_fast(path)
    except OSError:
        return None  # the record way names the file
    try:
        with fh:
            return read_records(fh, KPI_KINDS)
    except (NotFastError, OSError, EOFError, zlib.error, IsalError):
        return None  # the record way names the line, or the file's gzip problem


def _open_fast(path: Path) -> IO[bytes]:
    """Open a JSON Lines log for reading; gzip through ISA-L's igzip (2-3x zlib's speed)."""
    if path.suffix.lower() == ".gz":
        from isal import igzip

        return igzip.open(path, "rb")  # type: ignore[return-value]
    return path.open("rb")
