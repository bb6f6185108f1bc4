"""The rows of chosen record kinds of a Parquet event log, as numpy columns.

The log is one table with a ``kind`` column (``plant_sim.parquet_log``). It is read one row group
at a time, only the columns that the kinds present in that group need. A column of a group is
viewed once in its Arrow buffers with numpy (no pass over all its rows: dictionary indices are
looked up only at the rows a kind asks for, nulls found from the validity bitmap at those rows)
and each kind's rows are gathered into arrays of their final size (numpy, not Arrow's ``take``:
pyarrow.compute costs 0.1 s to import), so no row of another kind and no Arrow array outlives
its row group. Columns come out as:

- numbers (float64, int64): a numpy array and the mask of its nulls (``None``: no null);
- strings with few distinct values (``coded``): codes into a list of values, -1 for null;
- other strings (ids: many distinct values): the bytes of each row group's values, turned into
  Python strings only for the rows asked for (``KindRows.strings``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from plant_sim.records import RECORD_TYPES

_NUMBER_TYPES = {"double": np.float64, "int64": np.int64, "int32": np.int32, "int8": np.int8}


@dataclass(slots=True)
class KindRows:
    """The rows of one record kind, in file order."""

    rows: int = 0
    numbers: dict[str, np.ndarray] = field(default_factory=dict)
    null_masks: dict[str, np.ndarray | None] = field(default_factory=dict)
    codes: dict[str, np.ndarray] = field(default_factory=dict)
    values: dict[str, list] = field(default_factory=dict)  # distinct values of coded columns
    # other strings: the asked-for rows of each row group, turned into Python on demand
    string_pieces: dict[str, list[StringPiece]] = field(default_factory=dict)

    def nulls(self, name: str) -> int:
        """Return how many rows have no value in a number column."""
        mask = self.null_masks[name]
        return 0 if mask is None else int(mask.sum())

    def strings(self, name: str, rows: np.ndarray | None = None) -> list:
        """Return the values of a string column (``None`` for null): all, or at ``rows``
        (sorted row numbers)."""
        out: list = []
        start = 0
        for piece in self.string_pieces[name]:
            if rows is None:
                out += piece.strings()
            else:
                lo, hi = np.searchsorted(rows, [start, start + piece.rows])
                if hi > lo:
                    out += piece.strings(rows[lo:hi] - start)
            start += piece.rows
        return out

    def pylist(self, name: str) -> list:
        """Return a column's Python values (``None`` for null), whatever its kind."""
        if name in self.string_pieces:
            return self.strings(name)
        if name in self.codes:
            table = np.array([*self.values[name], None], object)
            return table[self.codes[name]].tolist()
        values = self.numbers[name].tolist()
        mask = self.null_masks[name]
        if mask is not None:
            for i in np.flatnonzero(mask).tolist():
                values[i] = None
        return values


class _Group:
    """One row group's columns, each decoded once for all the kinds that read it.

    A column is kept as the row group holds it (no pass over all its rows): numbers as a view
    of the Arrow buffer, a dictionary column as its indices and a lookup table into the
    file-wide values, with the validity bitmap unpacked when it has nulls. Only the rows a
    kind asks for are then gathered (``_Parts.add``): a KPI kind is a sixth of the rows.
    """

    def __init__(
        self,
        table: Any,
        coded: frozenset[str],
        index: dict[str, dict],
        luts: dict[str, tuple[Any, np.ndarray]],
    ) -> None:
        self._table, self._coded, self._index, self._luts = table, coded, index, luts
        self._done: dict[str, tuple] = {}

    def column(self, name: str) -> tuple:
        """Return ``("number", values, validity)``, ``("coded", indices, validity, lut)``,
        ``("mapped", file-wide codes)`` or ``("string", [(chunk, its first row)])`` for every
        row of the group; ``validity`` is ``None`` when no value is null, a ``lut`` maps
        indices to file-wide codes (its last entry -1, for null)."""
        if name not in self._done:
            self._done[name] = self._decode(name)
        return self._done[name]

    def _decode(self, name: str) -> tuple:
        import pyarrow as pa

        chunks = self._table.column(name).chunks
        if len(chunks) == 1:  # what a row group read gives
            chunk = chunks[0]
            if pa.types.is_dictionary(chunk.type) and name in self._coded:
                indices = chunk.indices
                if str(indices.type) in _NUMBER_TYPES:
                    return ("coded", _numbers(indices), _validity(indices), self._lut(name, chunk))
            elif str(chunk.type) in _NUMBER_TYPES:
                return ("number", _numbers(chunk), _validity(chunk))
        return self._decode_chunks(name, chunks)

    def _decode_chunks(self, name: str, chunks: list) -> tuple:
        """``_decode`` for a column in several chunks: joined into one array per column."""
        import pyarrow as pa

        start = 0
        numbers, valid, codes, strings = [], [], [], []
        for chunk in chunks:
            if pa.types.is_dictionary(chunk.type) and name in self._coded:
                lut, raw = self._lut(name, chunk), _numbers(chunk.indices)
                ok = _validity(chunk.indices)
                codes.append(lut[raw if ok is None else np.where(ok, raw, -1)])
            elif str(chunk.type) in _NUMBER_TYPES:
                numbers.append(_numbers(chunk))
                valid.append(_validity(chunk))
            else:
                strings.append((chunk, start))
            start += len(chunk)
        if len(codes) == len(chunks):
            return ("mapped", _join(codes, np.int32))
        if len(numbers) == len(chunks):
            if all(v is None for v in valid):
                return ("number", _join(numbers), None)
            pieces = zip(numbers, valid, strict=True)
            return ("number", _join(numbers), _join([_all_valid(n, v) for n, v in pieces], bool))
        if len(strings) == len(chunks):
            return ("string", strings)
        raise ValueError(f"column {name}: chunks of different types")

    def _lut(self, name: str, chunk: Any) -> np.ndarray:
        """Return the codes of a dictionary chunk's values in the file-wide values of ``name``,
        and -1 (for null) after them."""
        dictionary = chunk.dictionary
        last = self._luts.get(name)
        if last is not None and last[0].equals(dictionary):  # row groups mostly share them
            return last[1]
        index = self._index.setdefault(name, {})
        values = dictionary.to_pylist()
        lut = np.array([index.setdefault(v, len(index)) for v in values] + [-1], np.int32)
        self._luts[name] = (dictionary, lut)
        return lut


def _all_valid(values: np.ndarray, valid: np.ndarray | None) -> np.ndarray:
    """Return ``valid``, or an all-true validity for ``values`` if it is ``None``."""
    return np.ones(len(values), bool) if valid is None else valid


class _Parts:
    """One kind's columns, filled in place row group after row group (arrays of the final
    size, allocated once: pieces kept per row group would fragment the heap)."""

    def __init__(self, rows: int) -> None:
        self.rows = rows
        self.at = 0  # rows filled so far
        self.numbers: dict[str, np.ndarray] = {}
        self.masks: dict[str, np.ndarray] = {}
        self.codes: dict[str, np.ndarray] = {}
        self.strings: dict[str, list[StringPiece]] = {}

    def add(self, name: str, column: tuple, rows: np.ndarray) -> None:
        """Put the values at ``rows`` of one row group's decoded ``column`` in place."""
        span = slice(self.at, self.at + len(rows))
        if column[0] == "coded":
            _, indices, valid, lut = column
            picked = indices.take(rows)
            if valid is not None and not (ok := valid.take(rows)).all():
                picked = np.where(ok, picked, len(lut) - 1)  # null: the lut's last entry, -1
            lut.take(picked, mode="clip", out=self._array(self.codes, name, np.int32)[span])
        elif column[0] == "mapped":
            out = self._array(self.codes, name, np.int32)[span]
            column[1].take(rows, mode="clip", out=out)
        elif column[0] == "number":
            _, values, valid = column
            out = self._array(self.numbers, name, values.dtype)[span]
            values.take(rows, mode="clip", out=out)
            if valid is not None and not (ok := valid.take(rows)).all():
                if name not in self.masks:
                    self.masks[name] = np.zeros(self.rows, bool)
                np.logical_not(ok, out=self.masks[name][span])
        else:
            for chunk, first in column[1]:
                lo, hi = np.searchsorted(rows, [first, first + len(chunk)])
                if hi > lo:
                    piece = StringPiece.of(chunk, rows[lo:hi] - first)
                    self.strings.setdefault(name, []).append(piece)

    def _array(self, arrays: dict[str, np.ndarray], name: str, dtype: Any) -> np.ndarray:
        """Return the kind's array ``name`` of ``arrays``, allocated at its final size."""
        if name not in arrays:
            arrays[name] = np.empty(self.rows, dtype)
        return arrays[name]

    def rows_of(
        self, names: Sequence[str], schema: Any, coded: frozenset[str], index: dict[str, dict]
    ) -> KindRows:
        """Return the columns ``names`` (empty ones typed by the file's ``schema``)."""
        out = KindRows(rows=self.rows)
        for name in names:
            typ = str(schema.field(name).type) if name in schema.names else "string"
            if name in self.codes or (name in coded and name not in self.strings):
                out.codes[name] = self.codes.get(name, np.zeros(0, np.int32))
                out.values[name] = list(index.get(name, {}))
            elif name in self.numbers or typ in _NUMBER_TYPES:
                out.numbers[name] = self.numbers.get(name, np.zeros(0, _NUMBER_TYPES.get(typ)))
                out.null_masks[name] = self.masks.get(name)
            else:
                out.string_pieces[name] = self.strings.get(name, [])
        return out


def _numbers(array: Any) -> np.ndarray:
    """Return a numeric Arrow array's values (nulls hold whatever the buffer has)."""
    values = np.frombuffer(array.buffers()[1], _NUMBER_TYPES[str(array.type)])
    return values[array.offset : array.offset + len(array)]


def _validity(array: Any) -> np.ndarray | None:
    """Return whether each value is present, or ``None`` if none is null."""
    if not array.null_count:
        return None
    bits = np.frombuffer(array.buffers()[0], np.uint8)
    unpacked = np.unpackbits(bits, bitorder="little").view(bool)
    return unpacked[array.offset : array.offset + len(array)]


@dataclass(slots=True)
class StringPiece:
    """Some rows of one row group's string column, kept without the Arrow arrays (so no
    Arrow buffer outlives its row group): the bytes spanning their values and each row's
    span in them, or, for a type the writer does not use, their Python values."""

    rows: int
    data: bytes = b""
    starts: np.ndarray | None = None
    ends: np.ndarray | None = None
    null: np.ndarray | None = None  # which rows are null (``None``: none is)
    values: list | None = None

    @classmethod
    def of(cls, array: Any, local: np.ndarray) -> StringPiece:
        """Return the rows ``local`` of a string or dictionary array."""
        import pyarrow as pa

        null = None if (valid := _validity(array)) is None else ~valid[local]
        if null is not None and not null.any():
            null = None
        if pa.types.is_dictionary(array.type):
            positions, array = _numbers(array.indices)[local], array.dictionary
        else:
            positions = local
        if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
            values = array.to_pylist()  # a type the writer does not use: Arrow's conversion
            return cls(len(local), null=null, values=[values[i] for i in positions.tolist()])
        if null is not None:
            positions = np.where(null, 0, positions)  # a null's slot: any valid position
        width = np.int64 if pa.types.is_large_string(array.type) else np.int32
        offsets = np.frombuffer(array.buffers()[1], width)[array.offset :]
        starts, ends = offsets[positions], offsets[positions + 1]
        lo, hi = (int(starts.min()), int(ends.max())) if len(starts) else (0, 0)
        data = array.buffers()[2]
        raw = b"" if data is None or hi == lo else memoryview(data)[lo:hi].tobytes()
        return cls(len(local), raw, starts - lo, ends - lo, null)

    def strings(self, sel: np.ndarray | None = None) -> list:
        """Return the values (``None`` for null): all, or at ``sel`` (sorted)."""
        null = self.null if sel is None or self.null is None else self.null[sel]
        if self.values is not None:
            out = self.values if sel is None else [self.values[i] for i in sel.tolist()]
            out = list(out)
        else:
            starts, ends = self.starts, self.ends
            if sel is not None:
                starts, ends = starts[sel], ends[sel]  # type: ignore[index]
            pairs = zip(starts.tolist(), ends.tolist(), strict=True)  # type: ignore[union-attr]
            if self.data.isascii():  # one decode, then slices: byte and character offsets agree
                text = self.data.decode()
                out = [text[a:b] for a, b in pairs]
            else:
                out = [self.data[a:b].decode() for a, b in pairs]
        if null is not None:
            for i in np.flatnonzero(null).tolist():
                out[i] = None
        return out


def _join(pieces: list[np.ndarray], dtype: Any = np.float64) -> np.ndarray:
    """Return the pieces as one array (an empty one of ``dtype`` for none)."""
    if not pieces:
        return np.zeros(0, dtype)
    return pieces[0] if len(pieces) == 1 else np.concatenate(pieces)


def read_kind_rows(
    path: str | Path,
    needs: Mapping[str, Sequence[str]],
    coded: Iterable[str] = (),
) -> dict[str, KindRows]:
    """Return the rows of each kind in ``needs`` with the columns it names.

    String columns in ``coded`` come out coded (read as Parquet dictionaries), others as
    strings on demand. Raises pyarrow's errors (``OSError``, ``ValueError``) for a file that
    is not a readable log.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    # The system allocator, as the log's writer uses: row groups decoded one after the other
    # reuse its memory; mimalloc (pyarrow's default) purges and faults the pages in again,
    # 0.1-0.15 s of system time over a 30-day log.
    pa.set_memory_pool(pa.system_memory_pool())
    coded = frozenset(coded)
    names = set(check_schema(pq.read_schema(path)).names)
    log = pq.ParquetFile(path, read_dictionary=[c for c in coded if c in names] or None)
    groups = range(log.num_row_groups)
    kinds = [  # a first pass over the kind column (cheap): each kind's size and rows
        _kind_rows(log.read_row_group(i, columns=["kind"], use_threads=False).column("kind"), needs)
        for i in groups
    ]
    parts = {kind: _Parts(sum(len(k.get(kind, ())) for k in kinds)) for kind in needs}
    index: dict[str, dict] = {}  # coded column -> value -> code, file-wide
    luts: dict[str, tuple] = {}  # coded column -> (last dictionary, its codes in ``index``)
    for i, rows in zip(groups, kinds, strict=True):
        # only the columns of the kinds in this row group: the run_start and order columns
        # are null in nearly every row group, and decoding them would cost a third of the read
        columns = list(dict.fromkeys(c for name in rows for c in needs[name]))
        if not columns:
            continue
        for name in rows:
            if missing := [c for c in needs[name] if c not in names]:
                raise ValueError(f"{name} records: no column {missing[0]!r} in the file")
        table = log.read_row_group(i, columns=columns, use_threads=False)
        group = _Group(table, coded, index, luts)
        for name, picked in rows.items():
            for column in needs[name]:
                parts[name].add(column, group.column(column), picked)
            parts[name].at += len(picked)
    schema = log.schema_arrow
    return {name: parts[name].rows_of(cols, schema, coded, index) for name, cols in needs.items()}


def check_schema(schema: Any) -> Any:
    """Return ``schema`` if it can be an event log's (``plant_sim.parquet_log.COLUMNS``):
    ``kind`` and ``t`` present, each log column of a type read here (other columns are
    ignored). Raises ``ValueError`` naming the column: a Parquet file that is not a log."""
    import pyarrow as pa

    from plant_sim.parquet_log import COLUMNS

    for name in ("kind", "t"):
        if name not in schema.names:
            raise ValueError(f"no column {name!r}")
    for f in schema:
        want = "string" if f.name == "kind" else COLUMNS.get(f.name)
        typ = f.type.value_type if pa.types.is_dictionary(f.type) else f.type
        if want is None or pa.types.is_null(typ):
            continue
        if want == "string":
            ok = pa.types.is_string(typ) or pa.types.is_large_string(typ)
        else:
            ok = str(typ) in _NUMBER_TYPES
        if not ok:
            raise ValueError(f"column {f.name!r} is {f.type}, not {want}")
    return schema


def _kind_rows(kind: Any, needs: Mapping[str, Sequence[str]]) -> dict[str, np.ndarray]:
    """Return the row numbers of each needed kind in one row group's ``kind`` column."""
    import pyarrow as pa

    out: dict[str, list[np.ndarray]] = {}
    start = 0
    for chunk in kind.chunks:
        if pa.types.is_dictionary(chunk.type):
            names, codes = chunk.dictionary.to_pylist(), _numbers(chunk.indices)
            if (valid := _validity(chunk)) is not None:
                codes = np.where(valid, codes, -1)
        else:  # a plain string column (a log written by another tool)
            values = chunk.to_pylist()
            names = list(dict.fromkeys(values))
            codes = np.array([names.index(v) for v in values], np.int64)
        for j, name in enumerate(names):
            if name not in RECORD_TYPES and (j in codes):  # a value that no row uses is no record
                raise ValueError(f"unknown record kind {name!r}")
            if name in needs and len(picked := np.flatnonzero(codes == j)):
                out.setdefault(name, []).append(picked + start)
        start += len(chunk)
    return {name: _join(p, np.int64) for name, p in out.items()}
