"""The event log as one Parquet table: typed columns, one row per record, in emission order.

Layout: one table with a ``kind`` column (dictionary of the record kinds) and the union of the
record fields as columns (``COLUMNS``); a field a kind does not have is null. Rows keep the
order the model emitted them, so the file converts back to the JSON Lines log record for
record. Why one table rather than a file per kind: one file for ``--out run.parquet``, one
``SELECT`` for DuckDB and one ``read_parquet`` for pandas/polars, and emission order kept;
the null columns cost little (measured in bench/bench_eventlog.py, README "The event log").

``level`` is float64 for both kinds that have it: parts in a buffer (whole numbers) and
material in stock. ``lines`` (run_start) is the plant structure as a JSON string.

Row groups are written while the model runs (``ParquetLogWriter``); the same records give the
same bytes (no timestamps in the file; the writer's version is in its footer).
pyarrow is imported only by this module, so commands that do not touch Parquet never load it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import fields
from functools import cache
from operator import attrgetter
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from plant_sim.records import RECORD_TYPES, Record, StateChange
from plant_sim.states import StationState

#: Every column after ``kind``, with its Arrow type name (see ``schema``).
COLUMNS: dict[str, str] = {
    "t": "float64",
    "line": "string",
    "station": "string",
    "state": "string",
    "reason": "string",
    "power_kw": "float64",
    "product": "string",
    "part_id": "string",
    "order_id": "string",
    "result": "string",
    "cycle_time_s": "float64",
    "planned_cycle_time_s": "float64",
    "outcome": "string",
    "flow_time_s": "float64",
    "buffer": "string",
    "level": "float64",
    "capacity": "int64",
    "temperature_c": "float64",
    "energy_kwh": "float64",
    "speed_factor": "float64",
    "quantity": "int64",
    "due_s": "float64",
    "event": "string",
    "material": "string",
    "cause": "string",
    "reorder_point": "float64",
    "shift": "string",
    "name": "string",
    "phase": "string",
    "target": "string",
    "run_id": "string",
    "scenario": "string",
    "seed": "int64",
    "start_epoch_ms": "int64",
    "horizon_s": "float64",
    "enterprise": "string",
    "site": "string",
    "area": "string",
    "lines": "string",
    "schema": "int64",
}
KINDS: tuple[str, ...] = tuple(RECORD_TYPES)
#: Rows per row group; the writer holds at most two row groups' columns.
ROW_GROUP_ROWS = 32_768
COMPRESSION = "zstd"

_FIELDS = {kind: tuple(f.name for f in fields(cls)) for kind, cls in RECORD_TYPES.items()}
_KIND_CODE = {cls: i for i, cls in enumerate(RECORD_TYPES.values())}
_GETTERS = {kind: attrgetter(*names) for kind, names in _FIELDS.items()}

for _names in _FIELDS.values():  # every field has a column: a new record field needs one too
    assert all(n in COLUMNS for n in _names), _names


@cache
def schema() -> Any:
    """Return the Arrow schema of the event log table."""
    import pyarrow as pa

    kind = pa.field("kind", pa.dictionary(pa.int8(), pa.string()), nullable=False)
    return pa.schema([kind, *(pa.field(n, getattr(pa, t)()) for n, t in COLUMNS.items())])


#: numpy dtype and fill of each Arrow column type while the column is scattered into place.
_NUMPY = {"float64": (np.float64, 0.0), "int64": (np.int64, 0), "string": (object, None)}


def _scatter(out: np.ndarray, missing: np.ndarray, idx: np.ndarray, values: Sequence) -> None:
    """Put one kind's ``values`` at rows ``idx`` of a column; None stays missing."""
    if out.dtype == object:
        out[idx] = values
        missing[idx] = False
        return
    try:  # no None among the values: one conversion in C (numpy reads None as NaN)
        converted = np.fromiter(values, out.dtype, len(values))
        if out.dtype.kind == "f" and np.isnan(converted).any():
            raise TypeError("None or NaN: look at each value")
        out[idx] = converted
        missing[idx] = False
    except TypeError:
        given = np.array(values, dtype=object)
        present = given != None  # noqa: E711 (elementwise None test)
        out[idx[present]] = given[present].astype(out.dtype)
        missing[idx[present]] = False


def records_to_table(records: Sequence[Record]) -> Any:
    """Return records as an Arrow table of ``schema()``, rows in the order given.

    Each kind's fields are read in one pass over its records; each column is scattered into
    emission order with numpy (nulls where a kind lacks the field) and handed to Arrow once.
    """
    import pyarrow as pa

    n = len(records)
    try:
        codes = np.frombuffer(bytes(map(_KIND_CODE.__getitem__, map(type, records))), np.int8)
    except KeyError as exc:
        raise ValueError(f"records: {exc.args[0].__name__} is not a record type") from None
    sch = schema()
    columns: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # name -> (values, missing)
    for code, kind in enumerate(KINDS):
        idx = np.flatnonzero(codes == code)
        if not len(idx):
            continue
        items = list(map(records.__getitem__, idx.tolist()))
        names = _FIELDS[kind]
        if len(names) == 1:  # attrgetter of one name returns the value, not a tuple
            cols = [tuple(map(_GETTERS[kind], items))]
        else:
            cols = list(zip(*map(_GETTERS[kind], items), strict=True))
        for name, values in zip(names, cols, strict=True):
            if name not in columns:
                dtype, fill = _NUMPY[COLUMNS[name]]
                columns[name] = (np.full(n, fill, dtype), np.ones(n, bool))
            out, missing = columns[name]
            if name == "lines":
                values = tuple(orjson.dumps(v).decode() for v in values)
            _scatter(out, missing, idx, values)
    arrays = [pa.DictionaryArray.from_arrays(pa.array(codes), pa.array(KINDS))]
    for name in COLUMNS:
        typ = sch.field(name).type
        if name not in columns:
            arrays.append(pa.nulls(n, typ))
            continue
        out, missing = columns[name]
        if out.dtype == object:
            arrays.append(pa.array(out, type=typ, from_pandas=True))
        else:
            arrays.append(pa.array(out, type=typ, mask=missing if missing.any() else None))
    return pa.Table.from_arrays(arrays, schema=sch)


_STATES = {s.value: s for s in StationState}


def table_to_records(table: Any) -> list[Record]:
    """Return the records of an event log table (the inverse of ``records_to_table``)."""
    kinds = table.column("kind").to_pylist()
    columns = {name: table.column(name).to_pylist() for name in table.column_names}
    out: list[Record] = []
    for row, kind in enumerate(kinds):
        cls = RECORD_TYPES.get(kind)
        if cls is None:
            raise ValueError(f"row {row}: unknown record kind {kind!r}")
        values = {name: columns[name][row] for name in _FIELDS[kind] if name in columns}
        if kind == "run_start" and values.get("lines") is not None:
            values["lines"] = orjson.loads(values["lines"])
        if kind == "buffer" and values.get("level") is not None:
            values["level"] = int(values["level"])
        try:
            rec = cls(**values)
        except TypeError as exc:
            raise ValueError(f"row {row}: {kind}: {exc}") from None
        if isinstance(rec, StateChange):
            rec.state = _STATES.get(rec.state) or StationState(rec.state)
        out.append(rec)
    return out


class ParquetLogWriter:
    """Write records to a Parquet event log in row groups while they come in.

    Records are turned into columns at once (``write``); full row groups are encoded,
    compressed and written by one background thread (pyarrow releases the GIL there), so
    that work overlaps the model's. At most one row group waits for that thread.
    """

    def __init__(self, path: str | Path, row_group_rows: int = ROW_GROUP_ROWS) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        # The system allocator hands written row groups back to the OS; pyarrow's default
        # (mimalloc) keeps them: 147 against 209 MB peak for a streamed 2-day run.
        pa.set_memory_pool(pa.system_memory_pool())

        self.path = Path(path)
        self.rows = 0
        self._row_group_rows = row_group_rows
        self._pending: list[Any] = []
        self._pending_rows = 0
        self._writer = pq.ParquetWriter(
            self.path,
            schema(),
            compression=COMPRESSION,
            write_statistics=["t"],
            store_schema=True,
        )
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="parquet-log")
        self._in_flight: Future[None] | None = None

    @property
    def held(self) -> int:
        """Rows converted but not yet written (at most two row groups)."""
        return self._pending_rows

    def write(self, records: Sequence[Record]) -> None:
        """Convert ``records`` to columns and hand every full row group to the writer thread."""
        if not records:
            return
        table = records_to_table(records)
        self._pending.append(table)
        self._pending_rows += table.num_rows
        self.rows += table.num_rows
        while self._pending_rows >= self._row_group_rows:
            self._flush(self._row_group_rows)

    def _flush(self, rows: int) -> None:
        import pyarrow as pa

        table = pa.concat_tables(self._pending)
        head, rest = table.slice(0, rows), table.slice(rows)
        self._wait()
        self._in_flight = self._pool.submit(self._write_group, head, rows)
        self._pending = [rest] if rest.num_rows else []
        self._pending_rows = rest.num_rows

    def _write_group(self, table: Any, rows: int) -> None:
        self._writer.write_table(table, row_group_size=rows)

    def _wait(self) -> None:
        if self._in_flight is not None:
            self._in_flight.result()  # raises the writer thread's error here
            self._in_flight = None

    def close(self) -> None:
        """Write what is left and the file footer."""
        try:
            if self._pending_rows:
                self._flush(self._pending_rows)
            self._wait()
        finally:
            self._pool.shutdown()
            self._writer.close()

    def __enter__(self) -> ParquetLogWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def arrow_indices(values: np.ndarray) -> Any:
    """Return an int64 Arrow array over ``values`` without copying.

    ``pa.array`` would do the same but imports pandas (0.2-0.3 s) to check the input's type.
    """
    import pyarrow as pa

    values = np.ascontiguousarray(values, np.int64)
    return pa.Array.from_buffers(pa.int64(), len(values), [None, pa.py_buffer(values)])


#: numpy types of the Arrow types read as numbers.
_NUMBER_TYPES = {"int8": np.int8, "int16": np.int16, "int32": np.int32, "int64": np.int64}
_NUMBER_TYPES["double"] = np.float64


def numbers(column: Any) -> np.ndarray:
    """Return a numeric Arrow array or chunked array (no nulls) as numpy values.

    Read from the Arrow buffers: ``to_numpy`` goes through pyarrow's pandas conversion, which
    imports pandas (0.2-0.3 s of a ``twin kpi``).
    """
    chunks = getattr(column, "chunks", [column])
    parts = [
        np.frombuffer(c.buffers()[1], _NUMBER_TYPES[str(c.type)])[c.offset : c.offset + len(c)]
        for c in chunks
    ]
    if not parts:
        return np.zeros(0, _NUMBER_TYPES[str(column.type)])
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def dictionary_codes(indices: Any) -> np.ndarray:
    """Return a dictionary array's indices as int64 numpy values, -1 for null."""
    codes = numbers(indices).astype(np.int64)
    if indices.null_count:
        bits = np.frombuffer(indices.buffers()[0], np.uint8)
        valid = np.unpackbits(bits, bitorder="little")[indices.offset :][: len(indices)]
        codes[valid == 0] = -1
    return codes


def kind_rows(kind: Any, kinds: Iterable[str]) -> np.ndarray:
    """Return the row numbers whose ``kind`` (a dictionary or string column) is in ``kinds``."""
    import pyarrow as pa
    import pyarrow.compute as pc

    wanted = set(kinds)
    chunks = kind.chunks if isinstance(kind, pa.ChunkedArray) else [kind]
    out, offset = [], 0
    for chunk in chunks:
        if not pa.types.is_dictionary(chunk.type):
            chunk = pc.dictionary_encode(chunk)
        lut = np.array([v in wanted for v in chunk.dictionary.to_pylist()] + [False], bool)
        codes = dictionary_codes(chunk.indices)
        out.append(np.flatnonzero(lut[codes]) + offset)
        offset += len(chunk)
    return np.concatenate(out) if out else np.zeros(0, np.int64)


def read_table(
    path: str | Path,
    columns: Iterable[str] | None = None,
    dictionaries: Iterable[str] = (),
    kinds: Iterable[str] | None = None,
) -> Any:
    """Read an event log table: all columns or ``columns`` (``kind`` always), the string
    columns named in ``dictionaries`` as dictionary arrays, and the rows of ``kinds`` only
    (read one row group at a time, so rows of other kinds are never all in memory)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    wanted = None if columns is None else ["kind", *(c for c in columns if c != "kind")]
    log = pq.ParquetFile(path, read_dictionary=list(dictionaries) or None)
    if kinds is None:
        return log.read(columns=wanted)
    kinds = frozenset(kinds)
    groups = []
    for i in range(log.num_row_groups):
        group = log.read_row_group(i, columns=wanted, use_threads=False)
        groups.append(group.take(arrow_indices(kind_rows(group.column("kind"), kinds))))
    return pa.concat_tables(groups) if groups else log.schema_arrow.empty_table()


def read_kinds(
    path: str | Path, needs: Mapping[str, Sequence[str]], dictionaries: Iterable[str] = ()
) -> dict[str, Any]:
    """Read the rows of each kind in ``needs`` as its own table of the columns it names.

    One row group at a time: each kind's rows are taken straight from the row group, so
    neither rows of other kinds nor columns a kind does not need are ever held. Rows keep
    their order within a kind. The string columns in ``dictionaries`` are read as
    dictionary arrays.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    log = pq.ParquetFile(path, read_dictionary=list(dictionaries) or None)
    parts: dict[str, list[Any]] = {kind: [] for kind in needs}
    for i in range(log.num_row_groups):
        kind = log.read_row_group(i, columns=["kind"], use_threads=False).column("kind")
        kind = kind.combine_chunks()
        if not pa.types.is_dictionary(kind.type):
            kind = kind.dictionary_encode()
        codes = dictionary_codes(kind.indices)
        rows = {}
        for j, name in enumerate(kind.dictionary.to_pylist()):
            if name in needs and len(picked := np.flatnonzero(codes == j)):
                rows[name] = picked
        # only the columns of the kinds in this row group: the run_start and order columns
        # are null in nearly every row group, and decoding them would cost a third of the read
        columns = list(dict.fromkeys(c for name in rows for c in needs[name]))
        if not columns:
            continue
        group = log.read_row_group(i, columns=columns, use_threads=False)
        for name, picked in rows.items():
            parts[name].append(group.select(list(needs[name])).take(arrow_indices(picked)))
    return {
        name: pa.concat_tables(parts[name]) if parts[name] else _empty(log, cols)
        for name, cols in needs.items()
    }


def _empty(log: Any, columns: Sequence[str]) -> Any:
    """Return an empty table of ``columns`` of a Parquet file (its first rows, or its schema)."""
    if log.num_row_groups:
        return log.read_row_group(0, columns=list(columns)).slice(0, 0)
    return log.schema_arrow.empty_table().select(list(columns))
