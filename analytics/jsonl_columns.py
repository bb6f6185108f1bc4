"""The KPI records of a JSON Lines event log, decoded a block of lines at a time by msgspec.

Each line becomes a small struct of its kind (a tagged union on ``kind``, the fields of the
record in ``plant_sim.records``), decoded in C with no dict per line; the kinds the KPIs do not
read (process samples, buffer levels) decode to empty structs, their fields skipped. Values
are checked against the record's field types (``FIELD_TYPES``) and keep their JSON types (as
``orjson`` gives them) but the state, which becomes a ``StationState``. The structs go the way
records go (``columns.columns_by_kind``); only run starts, orders and stock levels, which the
KPI results keep, become records.

Anything msgspec rejects (not JSON, an unknown kind or field, a missing field, a value of
another type, an unknown state) raises ``NotFastError``: the caller reads the file the record
way, which takes the same lines and names the line and field of any other. No file is opened
here (``analytics.eventlog`` does).
"""

from __future__ import annotations

from dataclasses import MISSING, fields
from functools import cache
from itertools import starmap
from operator import attrgetter
from typing import IO, Any, Union

import msgspec
import numpy as np

from plant_sim.records import FIELD_TYPES, RECORD_TYPES, OrderEvent, RunStart, StockLevel
from plant_sim.states import StationState

#: Bytes of decompressed JSON decoded at once (about 60,000 lines).
BLOCK = 1 << 23
#: Keys of a wire payload (``plant_sim.payloads``) that a record line may carry: ignored.
WIRE_KEYS = ("run_id", "ts", "ts_ms")
#: Records the KPI results keep as objects: built from their structs.
_AS_RECORDS = (RunStart, OrderEvent, StockLevel)


class NotFastError(Exception):
    """A line this reader does not take: read the file the record way instead."""


def _typed(kind: str, name: str) -> Any:
    """Return the type msgspec checks a field's value against (``FIELD_TYPES``: a number
    for a float, which keeps an int an int)."""
    return Union[FIELD_TYPES[kind][name]]  # noqa: UP007 (a runtime union)


def _struct(kind: str, cls: type, keep: bool) -> type:
    """Return the struct a line of ``kind`` decodes to (no fields unless ``keep``)."""
    spec: list[tuple] = []
    if keep:
        for f in fields(cls):
            typ = StationState if (cls.kind, f.name) == ("state", "state") else _typed(kind, f.name)
            if f.default is not MISSING:
                spec.append((f.name, typ, f.default))
            elif f.default_factory is not MISSING:
                spec.append((f.name, typ, msgspec.field(default_factory=f.default_factory)))
            else:
                spec.append((f.name, typ))
        names = {f.name for f in fields(cls)}
        spec += [(k, Any, None) for k in WIRE_KEYS if k not in names]
    return msgspec.defstruct(
        f"{cls.__name__}Line",
        spec,
        tag_field="kind",
        tag=kind,
        forbid_unknown_fields=keep,
        gc=False,
    )


@cache
def _decoder(
    kinds: frozenset[str],
) -> tuple[msgspec.json.Decoder, dict[type, int], list[tuple[int, type]]]:
    """Return the decoder of every record kind, each struct's code, and (code, record class)
    of ``kinds``."""
    structs = [_struct(k, cls, k in kinds) for k, cls in RECORD_TYPES.items()]
    kept = [(i, cls) for i, (k, cls) in enumerate(RECORD_TYPES.items()) if k in kinds]
    decoder = msgspec.json.Decoder(Union[tuple(structs)])  # noqa: UP007 (a runtime union)
    return decoder, {s: i for i, s in enumerate(structs)}, kept


def _codes(items: list, code_of: dict[type, int]) -> np.ndarray:
    """Return each struct's kind code (one C-level pass)."""
    return np.frombuffer(bytes(map(code_of.__getitem__, map(type, items))), np.uint8)


def read_records(fh: IO[bytes], kinds: frozenset[str]) -> dict[type, list]:
    """Return the lines of ``kinds`` in ``fh``, by record class, in file order: structs with
    the record's attributes, records for run starts, orders and stock levels.

    Raises ``NotFastError`` for anything msgspec rejects or a file that cannot be read.
    """
    decoder, code_of, kept = _decoder(kinds)
    out: dict[type, list] = {cls: [] for _, cls in kept}
    rest = b""  # the start of a line cut by the end of the previous block
    try:
        while block := fh.read(BLOCK):
            first, last = block.find(b"\n") + 1, block.rfind(b"\n") + 1
            if not first:  # no line ends in this block
                rest += block
                continue
            view = memoryview(block)  # decoded in place: no copy of the block
            _add(decoder.decode_lines(rest + view[:first]), code_of, kept, out)
            _add(decoder.decode_lines(view[first:last]), code_of, kept, out)
            rest = bytes(view[last:])
        _add(decoder.decode_lines(rest), code_of, kept, out)
    except (msgspec.DecodeError, OSError, EOFError) as exc:
        raise NotFastError(str(exc)) from None
    for cls in _AS_RECORDS:
        if cls in out:
            out[cls] = list(starmap(cls, map(attrgetter(*_NAMES[cls]), out[cls])))
    return out


_NAMES = {cls: tuple(f.name for f in fields(cls)) for cls in _AS_RECORDS}


def _add(
    items: list, code_of: dict[type, int], kept: list[tuple[int, type]], out: dict[type, list]
) -> None:
    """Append the structs of the kept kinds among ``items`` to their lists."""
    if not items:
        return
    codes = _codes(items, code_of)
    for code, cls in kept:
        idx = np.flatnonzero(codes == code)
        if len(idx):
            out[cls] += map(items.__getitem__, idx.tolist())
