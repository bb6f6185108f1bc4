"""``PlantColumns`` from an Arrow table of the event log, with vectorised code.

The table has the schema of ``plant_sim.parquet_log`` (a Parquet log as read, or JSON Lines
turned into columns by ``analytics.eventlog``). Strings are coded through their dictionaries
(a few dozen distinct values) with numpy lookups; only orders, stock levels, shifts and the run
start become Python objects. The columns equal those ``columns.to_columns`` builds from the same
records (tests/analytics/test_log_formats.py checks it). A log whose stations are not all named
by its ``run_start`` goes the record way (``to_columns``), which discovers them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson

from analytics.columns import (
    _REASON_STATES,
    MATERIAL_STARVED,
    RESULT_CODES,
    STATE_CODES,
    FlowCols,
    PlantColumns,
    _one_run,
    _PartCols,
    _StateCols,
    _structure,
    assemble,
    to_columns,
)
from plant_sim.records import OrderEvent, RunStart, StockLevel
from plant_sim.states import StationState

#: Columns of the log that the KPIs read (``kind`` always).
KPI_COLUMNS = (
    "t",
    "line",
    "station",
    "state",
    "reason",
    "power_kw",
    "product",
    "part_id",
    "order_id",
    "result",
    "planned_cycle_time_s",
    "outcome",
    "flow_time_s",
    "quantity",
    "due_s",
    "event",
    "material",
    "level",
    "cause",
    "shift",
    "run_id",
    "scenario",
    "seed",
    "start_epoch_ms",
    "horizon_s",
    "enterprise",
    "site",
    "area",
    "lines",
    "schema",
)


class _UnknownStationError(Exception):
    """A station that the run_start does not name: read the log the record way."""


def _dict_codes(column: Any) -> tuple[np.ndarray, list]:
    """Return each value's index into the returned list of distinct values (-1 for null)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if not pa.types.is_dictionary(arr.type):
        arr = pc.dictionary_encode(arr)
    codes = pc.fill_null(arr.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    return codes, arr.dictionary.to_pylist()


def _lookup(codes: np.ndarray, values: list, table: dict, dtype: Any, missing: Any) -> np.ndarray:
    """Return ``table[values[code]]`` per row (``missing`` for null or unknown values)."""
    lut = np.array([table.get(v, missing) for v in values] + [missing], dtype=dtype)
    return lut[codes]  # code -1 (null) takes the last entry


def _floats(sub: Any, name: str, kind: str) -> np.ndarray:
    """Return a float column of one kind's rows; ``ValueError`` if a value is missing."""
    col = sub.column(name)
    if col.null_count:
        raise ValueError(f"{kind}: {col.null_count} record(s) without {name}")
    return col.to_numpy().astype(float, copy=False)


def _station_index(sub: Any, keys: dict[tuple[str, str], int]) -> np.ndarray:
    """Return each row's station index in ``keys``."""
    lines, line_values = _dict_codes(sub.column("line"))
    stations, station_values = _dict_codes(sub.column("station"))
    width = len(station_values) + 1
    pairs, inverse = np.unique((lines + 1) * width + (stations + 1), return_inverse=True)
    lut = []
    for pair in pairs.tolist():
        ln, st = divmod(pair, width)
        key = (line_values[ln - 1] if ln else None, station_values[st - 1] if st else None)
        if key not in keys:
            raise _UnknownStationError
        lut.append(keys[key])
    return np.array(lut, np.int32)[inverse.reshape(-1)]


def _state_cols(sub: Any, keys: dict[tuple[str, str], int]) -> _StateCols:
    """Return the columns of the state rows (as ``columns._state_cols`` does for records)."""
    states, state_values = _dict_codes(sub.column("state"))
    codes = _lookup(states, state_values, {s.value: c for s, c in STATE_CODES.items()}, int, -1)
    if (codes < 0).any():
        bad = state_values[states[np.flatnonzero(codes < 0)[0]]] if len(state_values) else None
        raise ValueError(f"state: {bad!r} is not a valid StationState")
    reasons, reason_values = _dict_codes(sub.column("reason"))
    reason = np.empty(len(reason_values) + 1, object)
    reason[:-1] = reason_values
    per_row = reason[reasons]
    with_reason = np.isin(codes, [STATE_CODES[s] for s in _REASON_STATES])
    per_row[~with_reason] = None
    starved = codes == STATE_CODES[StationState.STARVED]
    material = np.array([v == "material" for v in reason_values] + [False], bool)[reasons]
    codes[starved & material] = MATERIAL_STARVED
    return _StateCols(
        idx=_station_index(sub, keys),
        code=codes.astype(np.int8),
        reason=per_row,
        t=_floats(sub, "t", "state"),
        power_kw=_floats(sub, "power_kw", "state"),
    )


def _part_cols(sub: Any, keys: dict[tuple[str, str], int]) -> tuple[_PartCols, set[str]]:
    """Return the columns of the part rows and the ids of parts judged scrap or rework."""
    results, result_values = _dict_codes(sub.column("result"))
    unknown = [v for v in result_values if v not in RESULT_CODES]
    if unknown and np.isin(results, [result_values.index(u) for u in unknown]).any():
        raise ValueError(f"part: result {unknown[0]!r} is not one of {', '.join(RESULT_CODES)}")
    codes = _lookup(results, result_values, RESULT_CODES, np.int8, -1)
    bad_rows = np.flatnonzero(codes != RESULT_CODES["good"])
    bad = set(sub.column("part_id").take(bad_rows).to_pylist())
    cols = _PartCols(
        idx=_station_index(sub, keys),
        result=codes,
        t=_floats(sub, "t", "part"),
        pri_s=_floats(sub, "planned_cycle_time_s", "part"),
    )
    return cols, bad


def _flow_cols(releases: Any, exits: Any, line_of: dict[str, int]) -> FlowCols:
    """Return the columns of the release and exit rows."""
    rel_lines, rel_values = _dict_codes(releases.column("line"))
    ex_lines, ex_values = _dict_codes(exits.column("line"))
    outcomes, outcome_values = _dict_codes(exits.column("outcome"))
    part_ids = exits.column("part_id").to_numpy(zero_copy_only=False)
    ids = np.empty(len(part_ids), object)
    ids[:] = part_ids
    orders = np.empty(len(part_ids), object)
    orders[:] = exits.column("order_id").to_numpy(zero_copy_only=False)
    return FlowCols(
        release_line=_lookup(rel_lines, rel_values, line_of, np.int32, -1),
        release_t=_floats(releases, "t", "release"),
        exit_line=_lookup(ex_lines, ex_values, line_of, np.int32, -1),
        exit_t=_floats(exits, "t", "exit"),
        exit_finished=_lookup(outcomes, outcome_values, {"finished": True}, bool, False),
        exit_flow_s=_floats(exits, "flow_time_s", "exit"),
        exit_part_id=ids,
        exit_order=orders,
    )


def _rows(sub: Any, names: tuple[str, ...]) -> list[tuple]:
    """Return the rows of a small table as tuples of Python values."""
    return list(zip(*(sub.column(n).to_pylist() for n in names), strict=True))


_RUN_START = (
    "t",
    "run_id",
    "scenario",
    "seed",
    "start_epoch_ms",
    "horizon_s",
    "enterprise",
    "site",
    "area",
    "lines",
    "schema",
)


def _run_starts(sub: Any) -> list[RunStart]:
    out = []
    for row in _rows(sub, _RUN_START):
        values = dict(zip(_RUN_START, row, strict=True))
        values["lines"] = orjson.loads(values["lines"]) if values["lines"] else []
        out.append(RunStart(**values))
    return out


def table_columns(table: Any, records: Any = None) -> PlantColumns:
    """Return the KPI columns of one run's event log table.

    ``records`` is a function returning the table's records; it is called only for a log
    whose stations the run_start does not name (default: ``parquet_log.table_to_records``).
    Raises ``ValueError`` for several runs, an unknown kind, state or result, or a missing
    time.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    from plant_sim.parquet_log import KINDS, table_to_records

    kind = table.column("kind")
    if pa.types.is_dictionary(kind.type):
        kind = kind.cast(pa.string())
    codes = pc.fill_null(pc.index_in(kind, value_set=pa.array(KINDS)), -1).to_numpy()
    if (codes < 0).any():
        row = int(np.flatnonzero(codes < 0)[0])
        raise ValueError(f"row {row}: unknown record kind {kind[row].as_py()!r}")

    def rows(name: str) -> Any:
        return table.select(_NEEDS[name]).take(np.flatnonzero(codes == KINDS.index(name)))

    run_starts = _run_starts(rows("run_start"))
    _one_run(run_starts)
    structure = _structure(run_starts, [], [])
    keys = {pair: i for i, pair in enumerate((ln, st) for ln, sts in structure for st in sts)}
    line_of = {ln: j for j, (ln, _) in enumerate(structure)}
    try:
        if not run_starts:
            raise _UnknownStationError
        state_cols = _state_cols(rows("state"), keys)
        part_cols, bad_parts = _part_cols(rows("part"), keys)
    except _UnknownStationError:
        return to_columns((records or (lambda: table_to_records(table)))())
    orders = [OrderEvent(*r) for r in _rows(rows("order"), _ORDER)]
    stock = [StockLevel(*r) for r in _rows(rows("stock"), ("t", "material", "level", "cause"))]
    return assemble(
        structure,
        run_starts[0] if run_starts else None,
        rows("run_end").column("t").to_pylist(),
        state_cols,
        part_cols,
        bad_parts,
        _flow_cols(rows("release"), rows("exit"), line_of),
        _rows(rows("shift"), ("t", "shift")),
        orders,
        stock,
    )


_ORDER = ("t", "order_id", "product", "quantity", "due_s", "event", "line")
#: The columns each kind's rows are read with.
_NEEDS = {
    "run_start": _RUN_START,
    "run_end": ("t",),
    "state": ("t", "line", "station", "state", "reason", "power_kw"),
    "part": ("t", "line", "station", "result", "planned_cycle_time_s", "part_id"),
    "release": ("t", "line"),
    "exit": ("t", "line", "outcome", "flow_time_s", "part_id", "order_id"),
    "order": _ORDER,
    "stock": ("t", "material", "level", "cause"),
    "shift": ("t", "shift"),
}
#: Columns with few distinct values: read from Parquet as dictionaries (no string per row).
DICTIONARY_COLUMNS = (
    "line",
    "station",
    "state",
    "reason",
    "result",
    "outcome",
    "product",
    "event",
    "material",
    "cause",
    "shift",
)
