"""``PlantColumns`` from the rows of a Parquet event log, with vectorised code.

The rows come by kind as numpy columns (``parquet_kinds.read_kind_rows`` with ``NEEDS``).
Strings are coded through their few distinct values with numpy lookups; only orders, stock
levels, shifts, the run start and the ids of exits and of non-good parts become Python
objects. The columns equal those ``columns.to_columns`` builds from the same records
(tests/analytics/test_model_log.py checks every KPI row). A log whose stations are not all
named by its ``run_start`` goes the record way (``to_columns``), which discovers them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson

from analytics.columns import (
    MATERIAL_STARVED,
    REASON_STATES,
    RESULT_CODES,
    STATE_CODES,
    FlowCols,
    PartRows,
    PlantColumns,
    StateRows,
    StockColumns,
    assemble,
    check_one_run,
    plant_structure,
    to_columns,
)
from analytics.parquet_kinds import KindRows
from plant_sim.records import OrderEvent, RunStart
from plant_sim.states import StationState


class _UnknownStationError(Exception):
    """A station that the run_start does not name: read the log the record way."""


def _lookup(codes: np.ndarray, values: list, table: dict, dtype: Any, missing: Any) -> np.ndarray:
    """Return ``table[values[code]]`` per row (``missing`` for null or unknown values)."""
    lut = np.array([table.get(v, missing) for v in values] + [missing], dtype=dtype)
    return lut[codes]  # code -1 (null) takes the last entry


def _floats(sub: KindRows, name: str, kind: str) -> np.ndarray:
    """Return a float column of one kind's rows; ``ValueError`` if a value is missing."""
    if nulls := sub.nulls(name):
        raise ValueError(f"{kind}: {nulls} record(s) without {name}")
    return sub.numbers[name].astype(float, copy=False)


def _coded(sub: KindRows, name: str) -> tuple[np.ndarray, list]:
    """Return a coded column's codes (-1 for null) and its distinct values."""
    return sub.codes[name], sub.values[name]


def _pairs(first: np.ndarray, n_first: int, second: np.ndarray, n_second: int) -> np.ndarray:
    """Return one code per row for the pair of two coded columns (-1, null, included):
    ``(first + 1) * (n_second + 1) + second + 1``, in int32 where it fits."""
    wide = np.int32 if (n_first + 1) * (n_second + 1) < 2**31 else np.int64
    pair = first.astype(wide) + 1
    pair *= n_second + 1
    pair += second
    pair += 1
    return pair


def _station_index(sub: KindRows, keys: dict[tuple[str, str], int]) -> np.ndarray:
    """Return each row's station index in ``keys``."""
    lines, line_values = _coded(sub, "line")
    stations, station_values = _coded(sub, "station")
    width = len(station_values) + 1
    pair = _pairs(lines, len(line_values), stations, len(station_values))
    seen = np.zeros((len(line_values) + 1) * width, bool)
    seen[pair] = True  # a table over the few (line, station) pairs: no sort of the rows
    lut = np.zeros(len(seen), np.int32)
    for code in np.flatnonzero(seen).tolist():
        ln, st = divmod(code, width)
        key = (line_values[ln - 1] if ln else None, station_values[st - 1] if st else None)
        if key not in keys:
            raise _UnknownStationError
        lut[code] = keys[key]
    return lut[pair]


def _state_cols(sub: KindRows, keys: dict[tuple[str, str], int]) -> StateRows:
    """Return the columns of the state rows (as ``columns.state_rows`` does for records).

    The state code and the reason kept come from a table over the few (state, reason) pairs:
    the reason only for DOWN, MINOR_STOP and STARVED, STARVED for "material" coded
    MATERIAL_STARVED, -1 for a value that is not a state."""
    states, state_values = _coded(sub, "state")
    reasons, reason_values = _coded(sub, "reason")
    by_value = {s.value: c for s, c in STATE_CODES.items()}
    with_reason = {STATE_CODES[s] for s in REASON_STATES}
    starved = STATE_CODES[StationState.STARVED]
    state_names, reason_names = [None, *state_values], [None, *reason_values]
    code_of = np.empty(len(state_names) * len(reason_names), np.int8)
    reason_of = np.empty(len(code_of), object)
    for i, state in enumerate(state_names):
        code = by_value.get(state, -1)  # type: ignore[arg-type]
        for j, reason in enumerate(reason_names):
            k = i * len(reason_names) + j
            code_of[k] = MATERIAL_STARVED if code == starved and reason == "material" else code
            reason_of[k] = reason if code in with_reason else None
    pair = _pairs(states, len(state_values), reasons, len(reason_values))
    codes = code_of[pair]
    if (codes < 0).any():
        bad = state_names[states[np.flatnonzero(codes < 0)[0]] + 1]
        raise ValueError(f"state: {bad!r} is not a valid StationState")
    return StateRows(
        idx=_station_index(sub, keys),
        code=codes,
        reason=reason_of[pair],
        t=_floats(sub, "t", "state"),
        power_kw=_floats(sub, "power_kw", "state"),
    )


def _part_cols(sub: KindRows, keys: dict[tuple[str, str], int]) -> tuple[PartRows, set[str]]:
    """Return the columns of the part rows and the ids of parts judged scrap or rework."""
    results, result_values = _coded(sub, "result")
    unknown = [v for v in result_values if v not in RESULT_CODES]
    if unknown and np.isin(results, [result_values.index(u) for u in unknown]).any():
        raise ValueError(f"part: result {unknown[0]!r} is not one of {', '.join(RESULT_CODES)}")
    codes = _lookup(results, result_values, RESULT_CODES, np.int8, -1)
    bad_rows = np.flatnonzero(codes != RESULT_CODES["good"])
    bad = set(sub.strings("part_id", bad_rows))
    cols = PartRows(
        idx=_station_index(sub, keys),
        result=codes,
        t=_floats(sub, "t", "part"),
        pri_s=_floats(sub, "planned_cycle_time_s", "part"),
    )
    return cols, bad


def _flow_cols(releases: KindRows, exits: KindRows, line_of: dict[str, int]) -> FlowCols:
    """Return the columns of the release and exit rows."""
    rel_lines, rel_values = _coded(releases, "line")
    ex_lines, ex_values = _coded(exits, "line")
    outcomes, outcome_values = _coded(exits, "outcome")
    part_ids = exits.pylist("part_id")
    ids = np.empty(len(part_ids), object)
    ids[:] = part_ids
    orders = np.empty(len(part_ids), object)
    orders[:] = exits.pylist("order_id")
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


def _first_seen(codes: np.ndarray, values: list) -> tuple[np.ndarray, list]:
    """Return ``codes`` renumbered by first appearance and the values in that order (``None``
    for null), as ``columns.stock_columns`` numbers materials and causes."""
    seen, first = np.unique(codes, return_index=True)
    order = seen[np.argsort(first, kind="stable")]
    lut = np.zeros(len(values) + 1, np.int32)
    lut[order] = np.arange(len(order), dtype=np.int32)  # code -1 (null) is the last entry
    table = [*values, None]
    return lut[codes], [table[c] for c in order.tolist()]


def _stock_cols(sub: KindRows) -> StockColumns:
    """Return the stock rows as ``StockColumns`` (what ``columns.stock_columns`` makes of the
    same records), with no record object per row."""
    material, materials = _first_seen(*_coded(sub, "material"))
    cause, causes = _first_seen(*_coded(sub, "cause"))
    return StockColumns(
        t=_floats(sub, "t", "stock"),
        level=_floats(sub, "level", "stock"),
        material=material,
        cause=cause,
        materials=materials,
        causes=causes,
    )


def _rows(sub: KindRows, names: tuple[str, ...]) -> list[tuple]:
    """Return the rows of one kind as tuples of Python values."""
    if not sub.rows:
        return []
    return list(zip(*(sub.pylist(n) for n in names), strict=True))


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


def _run_starts(sub: KindRows) -> list[RunStart]:
    out = []
    for row in _rows(sub, _RUN_START):
        values = dict(zip(_RUN_START, row, strict=True))
        values["lines"] = orjson.loads(values["lines"]) if values["lines"] else []
        out.append(RunStart(**values))
    return out


def _check_times(tables: dict[str, KindRows]) -> None:
    """Raise ``ValueError`` for a time that is NaN or infinite (Parquet holds them; a JSON
    Lines log cannot): one such time made every KPI of its window NaN, with exit code 0."""
    for kind, sub in tables.items():
        t = sub.numbers.get("t")
        if t is None or not len(t):
            continue
        mask = sub.null_masks.get("t")
        bad = ~np.isfinite(t) if mask is None else ~np.isfinite(t) & ~mask
        if n := int(bad.sum()):
            raise ValueError(f"{kind}: {n} record(s) whose t is not a finite number")


def kind_columns(tables: dict[str, KindRows], records: Any) -> PlantColumns:
    """Return the KPI columns of one run's event log, read as the rows of each kind
    (``parquet_kinds.read_kind_rows`` with ``NEEDS``).

    ``records`` is a function returning the log's KPI records; it is called only for a log
    whose stations the run_start does not name. Raises ``ValueError`` for several runs, an
    unknown state or result, or a missing or non-finite time.
    """
    _check_times(tables)
    run_starts = _run_starts(tables["run_start"])
    check_one_run(run_starts)
    structure = plant_structure(run_starts, [], [])
    keys = {pair: i for i, pair in enumerate((ln, st) for ln, sts in structure for st in sts)}
    line_of = {ln: j for j, (ln, _) in enumerate(structure)}
    try:
        if not run_starts:
            raise _UnknownStationError
        state_cols = _state_cols(tables["state"], keys)
        part_cols, bad_parts = _part_cols(tables["part"], keys)
    except _UnknownStationError:
        return to_columns(records())
    orders = [OrderEvent(*r) for r in _rows(tables["order"], _ORDER)]
    return assemble(
        structure,
        run_starts[0] if run_starts else None,
        tables["run_end"].pylist("t"),
        state_cols,
        part_cols,
        bad_parts,
        _flow_cols(tables["release"], tables["exit"], line_of),
        _rows(tables["shift"], ("t", "shift")),
        orders,
        _stock_cols(tables["stock"]),
    )


_ORDER = ("t", "order_id", "product", "quantity", "due_s", "event", "line")
#: The stock fields the KPIs read (not ``reorder_point``: a later field some logs lack).
_STOCK = ("t", "material", "level", "cause")
#: The kinds the KPIs read, with the columns each kind's rows are read with.
NEEDS = {
    "run_start": _RUN_START,
    "run_end": ("t",),
    "state": ("t", "line", "station", "state", "reason", "power_kw"),
    "part": ("t", "line", "station", "result", "planned_cycle_time_s", "part_id"),
    "release": ("t", "line"),
    "exit": ("t", "line", "outcome", "flow_time_s", "part_id", "order_id"),
    "order": _ORDER,
    "stock": _STOCK,
    "shift": ("t", "shift"),
}


#: Columns with few distinct values: read from Parquet as dictionaries, coded (no string per
#: row).
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
