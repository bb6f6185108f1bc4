"""The event log as one Parquet table: typed columns, one row per record, in emission order.

Layout: one table with a ``kind`` column (dictionary of the record kinds) and the union of the
record fields as columns (``COLUMNS``); a field a kind does not have is null. Rows keep the
order the model emitted them, so the file converts back to the JSON Lines log record for
record. Why one table rather than a file per kind: one file for ``--out run.parquet``, one
``SELECT`` for DuckDB and one ``read_parquet`` for pandas/polars, and emission order kept;
the null columns cost little (measured in bench/bench_eventlog.py, README "The event log").

The string columns of few distinct values (``DICTIONARY_COLUMNS``) are Arrow dictionaries
(``dictionary<int32, string>``), written from their codes. ``level`` is float64 for both
kinds that have it: parts in a buffer (whole numbers) and
material in stock. ``lines`` (run_start) is the plant structure as a JSON string.

Row groups are written while the model runs (``ParquetLogWriter``); the same records give the
same bytes (no timestamps in the file; the writer's version is in its footer).
pyarrow is imported only by this module, so commands that do not touch Parquet never load it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
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
#: Rows per row group; the writer keeps less than one row group of records.
ROW_GROUP_ROWS = 32_768
COMPRESSION = "zstd"
#: String columns with few distinct values: Parquet dictionary pages. The ids (part, order,
#: run) and the plant structure are written plain: a dictionary of nearly unique values
#: costs time to build and made the file larger (8.1 against 6.6 MB for 7 days).
_PLAIN = frozenset({"part_id", "order_id", "run_id", "lines"})
DICTIONARY_COLUMNS = ("kind", *(n for n, t in COLUMNS.items() if t == "string" and n not in _PLAIN))

_FIELDS = {kind: tuple(f.name for f in fields(cls)) for kind, cls in RECORD_TYPES.items()}
_KIND_CODE = {cls: i for i, cls in enumerate(RECORD_TYPES.values())}
_ATTR = {name: attrgetter(name) for name in COLUMNS}

for _names in _FIELDS.values():  # every field has a column: a new record field needs one too
    assert all(n in COLUMNS for n in _names), _names


@cache
def schema() -> Any:
    """Return the Arrow schema of the event log table."""
    import pyarrow as pa

    kind = pa.field("kind", pa.dictionary(pa.int8(), pa.string()), nullable=False)
    coded = pa.dictionary(pa.int32(), pa.string())
    types = {n: coded if n in DICTIONARY_COLUMNS else getattr(pa, t)() for n, t in COLUMNS.items()}
    return pa.schema([kind, *(pa.field(n, typ) for n, typ in types.items())])


#: numpy dtype and fill of each Arrow numeric column type while it is scattered into place.
_NUMPY = {"float64": (np.float64, 0.0), "int64": (np.int64, 0)}


def _scatter(out: np.ndarray, missing: np.ndarray, idx: np.ndarray, values: Sequence) -> None:
    """Put one kind's numeric ``values`` at rows ``idx`` of a column; None stays missing."""
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


class _Coder(dict):
    """String -> code, numbered on first sight (None -> -1): a column's dictionary."""

    def __init__(self) -> None:
        super().__init__()
        self[None] = -1
        self.values: list[str] = []

    def __missing__(self, value: str) -> int:
        if not isinstance(value, str):
            raise TypeError(f"{value!r} is not a string")
        self.values.append(value)
        self[value] = code = len(self.values) - 1
        return code


def _validity(missing: np.ndarray) -> Any:
    """Return an Arrow validity bitmap (bit set: value present), or None if nothing is missing."""
    import pyarrow as pa

    if not missing.any():
        return None
    return pa.py_buffer(np.packbits(~missing, bitorder="little"))


def _numbers_array(values: np.ndarray, missing: np.ndarray, typ: Any) -> Any:
    """Return an Arrow array over numpy ``values`` (null where ``missing``)."""
    import pyarrow as pa

    validity = _validity(missing)
    nulls = int(missing.sum()) if validity is not None else 0
    return pa.Array.from_buffers(typ, len(values), [validity, pa.py_buffer(values)], nulls)


def _strings(values: list[str]) -> Any:
    """Return ``values`` as an Arrow string array without nulls, built from its buffers."""
    import pyarrow as pa

    encoded = [v.encode() for v in values]
    offsets = np.zeros(len(encoded) + 1, np.int32)
    np.cumsum(np.fromiter(map(len, encoded), np.int32, len(encoded)), out=offsets[1:])
    return pa.StringArray.from_buffers(
        len(encoded), pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded))
    )


def _string_array(codes: np.ndarray, values: list[str], coded: bool) -> Any:
    """Return an Arrow column from codes into ``values`` (-1: null): a dictionary array
    (``coded``) or a plain string array.

    Built from buffers: no per-value Python call past the coding, not through ``pa.array``
    (which imports pandas) and not through a dictionary decode (``pyarrow.compute``).
    """
    import pyarrow as pa

    missing = codes < 0
    validity = _validity(missing)
    nulls = int(missing.sum()) if validity is not None else 0
    if coded:
        indices = pa.Array.from_buffers(
            pa.int32(),
            len(codes),
            [validity, pa.py_buffer(np.where(missing, 0, codes).astype(np.int32, copy=False))],
            nulls,
        )
        return pa.DictionaryArray.from_arrays(indices, _strings(values))
    encoded = [v.encode() for v in values] + [b""]
    lengths = np.fromiter(map(len, encoded), np.int32, len(encoded))  # null (-1): 0
    offsets = np.zeros(len(codes) + 1, np.int32)
    np.cumsum(lengths[codes], out=offsets[1:])
    data = b"".join(map(encoded.__getitem__, codes[~missing].tolist()))
    return pa.StringArray.from_buffers(
        len(codes), pa.py_buffer(offsets), pa.py_buffer(data), validity, nulls
    )


@cache
def _kind_dictionary() -> Any:
    return _strings(list(KINDS))


def _read_field(
    kind: str,
    name: str,
    items: list[Record],
    idx: np.ndarray,
    n: int,
    numbers: dict[str, tuple[np.ndarray, np.ndarray]],
    strings: dict[str, tuple[np.ndarray, _Coder]],
) -> None:
    """Read field ``name`` of one kind's records (at rows ``idx`` of ``n``) into its column."""
    values = list(map(_ATTR[name], items))
    if name == "lines":
        values = [orjson.dumps(v).decode() for v in values]
    if COLUMNS[name] == "string":
        if name not in strings:
            strings[name] = (np.full(n, -1, np.int32), _Coder())
        out, coder = strings[name]
        try:
            out[idx] = np.fromiter(map(coder.__getitem__, values), np.int32, len(idx))
        except TypeError as exc:
            raise ValueError(f"records: {kind}.{name}: {exc}") from None
        return
    if name not in numbers:
        dtype, fill = _NUMPY[COLUMNS[name]]
        numbers[name] = (np.full(n, fill, dtype), np.ones(n, bool))
    _scatter(*numbers[name], idx, values)


def records_to_table(records: Sequence[Record]) -> Any:
    """Return records as an Arrow table of ``schema()``, rows in the order given.

    Each kind's records are read field by field (one C-level pass per field); numbers are
    scattered into emission order with numpy, strings as codes into each column's dictionary
    (few distinct values but for part and order ids), and every column is handed to Arrow
    once, from its buffers.
    """
    import pyarrow as pa

    n = len(records)
    try:
        codes = np.frombuffer(bytes(map(_KIND_CODE.__getitem__, map(type, records))), np.int8)
    except KeyError as exc:
        raise ValueError(f"records: {exc.args[0].__name__} is not a record type") from None
    numbers: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # name -> (values, missing)
    strings: dict[str, tuple[np.ndarray, _Coder]] = {}  # name -> (codes, dictionary)
    for code, kind in enumerate(KINDS):
        idx = np.flatnonzero(codes == code)
        if len(idx):
            items = list(map(records.__getitem__, idx.tolist()))
            for name in _FIELDS[kind]:
                _read_field(kind, name, items, idx, n, numbers, strings)
    sch = schema()
    kind_indices = pa.Array.from_buffers(pa.int8(), n, [None, pa.py_buffer(codes)])
    arrays = [pa.DictionaryArray.from_arrays(kind_indices, _kind_dictionary())]
    for name in COLUMNS:
        typ = sch.field(name).type
        if name in strings:
            codes, coder = strings[name]
            arrays.append(_string_array(codes, coder.values, name in DICTIONARY_COLUMNS))
        elif name in numbers:
            arrays.append(_numbers_array(*numbers[name], typ))
        else:
            arrays.append(pa.nulls(n, typ))
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

    Records wait until a row group is full (``write``); then they are turned into columns
    at once, and the row group is encoded, compressed and written by one background thread
    (pyarrow releases the GIL there), so that work overlaps the model's. Converting a whole
    row group at a time keeps the per-call costs (about 40 columns) off every batch. At most
    one row group's records wait here and one row group waits for the thread.
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
        self._pending: list[Record] = []
        self._writer = pq.ParquetWriter(
            self.path,
            schema(),
            compression=COMPRESSION,
            use_dictionary=list(DICTIONARY_COLUMNS),
            write_statistics=["t"],
            store_schema=True,
        )
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="parquet-log")
        self._in_flight: Future[None] | None = None

    @property
    def held(self) -> int:
        """Records given but not yet handed to the writer thread (less than one row group)."""
        return len(self._pending)

    def write(self, records: Sequence[Record]) -> None:
        """Take ``records``; convert and hand every full row group to the writer thread."""
        self._pending += records
        self.rows += len(records)
        size = self._row_group_rows
        if len(self._pending) >= size:
            full = len(self._pending) // size * size
            for i in range(0, full, size):
                self._flush(self._pending[i : i + size])
            del self._pending[:full]

    def _flush(self, records: Sequence[Record]) -> None:
        table = records_to_table(records)
        self._wait()
        self._in_flight = self._pool.submit(self._write_group, table)

    def _write_group(self, table: Any) -> None:
        self._writer.write_table(table, row_group_size=table.num_rows)

    def _wait(self) -> None:
        if self._in_flight is not None:
            self._in_flight.result()  # raises the writer thread's error here
            self._in_flight = None

    def close(self) -> None:
        """Write what is left and the file footer."""
        try:
            if self._pending:
                self._flush(self._pending)
                self._pending = []
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
