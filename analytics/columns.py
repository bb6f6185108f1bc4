"""One pass over a record stream into per-station and per-line numpy columns.

The KPI modules never see record objects: they work on the arrays built here. A record stream
with a few million records is split by kind once, each column is pulled out with one list
comprehension, and per-station arrays come from a stable sort on the station index. The
stream is what the simulator emits or what an InfluxDB read-back rebuilds: records from
``plant_sim.records``, in time order per station (out-of-order stations are sorted here).

No I/O here; see ``analytics.eventlog`` for files.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import chain, repeat
from operator import attrgetter, eq
from typing import Any

import numpy as np

from plant_sim.gc_pause import no_gc
from plant_sim.records import (
    RECORD_TYPES,
    OrderEvent,
    PartDone,
    PartLeft,
    PartReleased,
    Record,
    RunEnd,
    RunStart,
    ShiftChange,
    StateChange,
    StockLevel,
)
from plant_sim.states import StationState

#: State codes used in every array: the index of the state in ``StationState``.
STATE_CODES: dict[StationState, int] = {s: i for i, s in enumerate(StationState)}
N_STATES = len(STATE_CODES)
#: Extra code for STARVED with reason "material" (still ADOT, still STARVED).
MATERIAL_STARVED = N_STATES
#: Extra code for time not covered by any state record (before the first, after the end).
UNOBSERVED = N_STATES + 1
N_CODES = N_STATES + 2

RESULT_CODES = {"good": 0, "scrap": 1, "rework": 2}
#: States whose records carry a reason (of the stop or the starving).
REASON_STATES = (StationState.DOWN, StationState.MINOR_STOP, StationState.STARVED)


@dataclass(slots=True)
class StationColumns:
    """State and part columns of one station (work unit), sorted by time."""

    line: str
    station: str
    t: np.ndarray  # start of each state interval (s)
    code: np.ndarray  # state code per interval (STATE_CODES, MATERIAL_STARVED)
    power_kw: np.ndarray  # power during each interval
    reason: np.ndarray  # object array: reason of DOWN/MINOR_STOP/STARVED intervals, else None
    part_t: np.ndarray  # time of each PartDone
    part_result: np.ndarray  # RESULT_CODES per part
    part_pri_s: np.ndarray  # planned run time per item of each part (PRI)


@dataclass(slots=True)
class LineColumns:
    """Flow columns of one line: releases and exits."""

    line: str
    stations: list[str]
    release_t: np.ndarray
    exit_t: np.ndarray
    exit_finished: np.ndarray  # bool: finished (True) or scrapped (False)
    exit_flow_s: np.ndarray
    exit_first_pass: np.ndarray  # bool: finished with no scrap/rework judgement on the way
    # Order id of each exit (object array; None for parts made without an order)
    exit_order: np.ndarray = field(default_factory=lambda: np.empty(0, object))


@dataclass(slots=True)
class StockColumns:
    """Raw-material stock records as columns, in stream order."""

    t: np.ndarray
    level: np.ndarray
    material: np.ndarray  # int32: index into ``materials``
    cause: np.ndarray  # int32: index into ``causes``
    materials: list[str] = field(default_factory=list)  # in order of first appearance
    causes: list[str] = field(default_factory=list)


_T_LEVEL = attrgetter("t", "level")
_MATERIAL_CAUSE = attrgetter("material", "cause")


def stock_columns(
    levels: Sequence[StockLevel],
    materials: dict[str, int] | None = None,
    causes: dict[str, int] | None = None,
) -> StockColumns:
    """Return stock records as columns; ``materials`` and ``causes`` (name -> code, in order
    of first appearance) carry the codes over from earlier batches and are updated."""
    materials = {} if materials is None else materials
    causes = {} if causes is None else causes
    n = len(levels)
    # Two passes over the records (touching scattered objects is what costs): the floats,
    # then (material, cause) pairs, coded through the few distinct pairs.
    tl = np.fromiter(chain.from_iterable(map(_T_LEVEL, levels)), float, 2 * n)
    pairs = list(map(_MATERIAL_CAUSE, levels))
    kinds = {pair: i for i, pair in enumerate(dict.fromkeys(pairs))}
    for m, c in kinds:
        materials.setdefault(m, len(materials))
        causes.setdefault(c, len(causes))
    kind = np.fromiter(map(kinds.__getitem__, pairs), np.int32, n)
    return StockColumns(
        t=tl[0::2].copy(),
        level=tl[1::2].copy(),
        material=np.array([materials[m] for m, _ in kinds], np.int32)[kind],
        cause=np.array([causes[c] for _, c in kinds], np.int32)[kind],
        materials=list(materials),
        causes=list(causes),
    )


@dataclass(slots=True)
class PlantColumns:
    """Everything the KPI modules need from one run's record stream."""

    run_id: str | None
    scenario: str | None
    start_s: float
    end_s: float
    lines: list[LineColumns]
    stations: list[StationColumns]  # in line order, then flow order
    shifts: list[tuple[float, str | None]]
    orders: list[OrderEvent] = field(default_factory=list)
    stock: list[StockLevel] | StockColumns = field(default_factory=list)

    def line_stations(self, line: str) -> list[StationColumns]:
        """Return the stations of ``line`` in flow order."""
        return [s for s in self.stations if s.line == line]


_KINDS = (
    RunStart,
    RunEnd,
    StateChange,
    PartDone,
    PartReleased,
    PartLeft,
    OrderEvent,
    StockLevel,
    ShiftChange,
)


def _split_by_kind(records: list[Record]) -> dict[type, list[Record]]:
    """Split records by type with C-level maps and gathers (no Python loop per record)."""
    codes_of = {cls: i for i, cls in enumerate(RECORD_TYPES.values())}
    try:
        # bytes() from small ints is the cheapest C-level pass over millions of records.
        codes = np.frombuffer(bytes(map(codes_of.__getitem__, map(type, records))), np.int8)
    except KeyError as exc:
        raise ValueError(f"records: {exc.args[0].__name__} is not a record type") from None
    return {cls: _gather(records, np.flatnonzero(codes == codes_of[cls])) for cls in _KINDS}


def _gather(items: list, idx: np.ndarray) -> list:
    """Return ``[items[i] for i in idx]`` quickly."""
    if len(idx) == 0:
        return []
    return list(map(items.__getitem__, idx.tolist()))


def plant_structure(
    run_starts: list, states: list[StateChange], parts: list[PartDone]
) -> list[tuple[str, list[str]]]:
    """Return ``[(line, [stations in flow order])]`` from RunStart, then order of appearance."""
    try:
        lines = (
            [(str(d["line"]), [str(s) for s in d["stations"]]) for d in run_starts[0].lines]
            if run_starts
            else []
        )
    except (TypeError, KeyError) as exc:  # a hand-edited run_start
        raise ValueError(
            'run_start: lines: expected a list of {"line": id, "stations": [ids]}'
            f" ({type(exc).__name__}: {exc})"
        ) from None
    known = {(ln, st) for ln, sts in lines for st in sts}
    extra: dict[str, list[str]] = {ln: [] for ln, _ in lines}
    for items in (states, parts):
        for ln, st in dict.fromkeys(map(_LINE_STATION, items)):
            if (ln, st) not in known:
                extra.setdefault(ln, []).append(st)
                known.add((ln, st))
    order = dict(lines)
    return [(ln, order.get(ln, []) + more) for ln, more in extra.items()]


def _station_keys(
    run_starts: list, states: list[StateChange], parts: list[PartDone]
) -> tuple[list[tuple[str, list[str]]], StateRows, PartRows]:
    """Return the plant structure and the columns of the state and part records.

    Fast path: the stations named in RunStart. A station missing there (or no RunStart)
    falls back to discovering stations in order of appearance.
    """
    structure = plant_structure(run_starts, [], []) if run_starts else []
    for attempt in range(2):
        keys = {pair: i for i, pair in enumerate((ln, st) for ln, sts in structure for st in sts)}
        try:
            return structure, state_rows(states, keys), part_rows(parts, keys)
        except KeyError:
            if attempt:
                raise
            structure = plant_structure(run_starts, states, parts)
    raise AssertionError("unreachable")


def to_columns(records: Iterable[Record]) -> PlantColumns:
    """Turn one run's record stream into columns. Raises ``ValueError`` on several runs."""
    with no_gc():
        return _to_columns(records)


def _to_columns(records: Iterable[Record]) -> PlantColumns:
    """Do the work of ``to_columns``."""
    recs = records if isinstance(records, list) else list(records)
    return columns_by_kind(_split_by_kind(recs))


def columns_by_kind(by_kind: dict[type, list]) -> PlantColumns:
    """Turn one run's records, split by record type (``RunStart``, ``StateChange``, ...),
    into columns. Any objects with the records' attributes will do (``jsonl_columns`` passes
    decoded structs); orders, stock levels and run starts become part of the result as given.
    Raises ``ValueError`` on several runs."""
    run_starts = by_kind[RunStart]
    check_one_run(run_starts)
    states: list[StateChange] = by_kind[StateChange]  # type: ignore[assignment]
    parts: list[PartDone] = by_kind[PartDone]  # type: ignore[assignment]
    structure, state_cols, part_cols = _station_keys(run_starts, states, parts)
    line_of = {ln: j for j, (ln, _) in enumerate(structure)}
    return assemble(
        structure,
        run_starts[0] if run_starts else None,  # type: ignore[arg-type]
        [r.t for r in by_kind[RunEnd]],
        state_cols,
        part_cols,
        judged_part_ids(parts, part_cols.result),
        _flow_cols(by_kind[PartReleased], by_kind[PartLeft], line_of),  # type: ignore[arg-type]
        [(r.t, r.shift) for r in by_kind[ShiftChange]],  # type: ignore[attr-defined]
        by_kind[OrderEvent],  # type: ignore[arg-type]
        by_kind[StockLevel],  # type: ignore[arg-type]
    )


def check_one_run(run_starts: list) -> None:
    """Raise ``ValueError`` if the records hold more than one run: starts of several runs, or
    one run's start more than once (logs joined into one file, ``cat a a``, whose KPIs would
    add up the runs, even of one scenario and seed: the same run id)."""
    if len({r.run_id for r in run_starts}) > 1:
        raise ValueError(
            f"records: the stream holds {len(run_starts)} runs; pass one run's records"
        )
    if len(run_starts) > 1:
        raise ValueError(
            f"records: {len(run_starts)} run_start records: an event log holds one run"
            " (several logs joined into one file?)"
        )


def assemble(  # noqa: PLR0913 (the parts of a run, each built by one reader)
    structure: list[tuple[str, list[str]]],
    run_start: RunStart | None,
    run_end_ts: list[float],
    state_cols: StateRows,
    part_cols: PartRows,
    bad_parts: set[str],
    flow: FlowCols,
    shifts: list[tuple[float, str | None]],
    orders: list[OrderEvent],
    stock: list[StockLevel] | StockColumns,
) -> PlantColumns:
    """Build ``PlantColumns`` from a run's columns, however they were read (records, a
    streaming run or an Arrow table): the one place that shapes them for the KPI modules."""
    pairs = [(ln, st) for ln, sts in structure for st in sts]
    stations = _station_columns(pairs, state_cols, part_cols)
    return assemble_stations(
        structure, run_start, run_end_ts, stations, bad_parts, flow, shifts, orders, stock
    )


def assemble_stations(  # noqa: PLR0913 (see ``assemble``)
    structure: list[tuple[str, list[str]]],
    run_start: RunStart | None,
    run_end_ts: list[float],
    stations: list[StationColumns],
    bad_parts: set[str],
    flow: FlowCols,
    shifts: list[tuple[float, str | None]],
    orders: list[OrderEvent],
    stock: list[StockLevel] | StockColumns,
) -> PlantColumns:
    """Do the work of ``assemble`` once the per-station columns are built."""
    line_cols = _line_columns(structure, flow, bad_parts)
    start_s, end_s = _run_span(run_start, run_end_ts, stations, line_cols, shifts)
    return PlantColumns(
        run_id=run_start.run_id if run_start else None,
        scenario=run_start.scenario if run_start else None,
        start_s=start_s,
        end_s=end_s,
        lines=line_cols,
        stations=stations,
        shifts=sorted(shifts, key=lambda x: x[0]),
        orders=orders,
        stock=stock,
    )


def _run_span(
    run_start: RunStart | None,
    run_end_ts: list[float],
    stations: list[StationColumns],
    lines: list[LineColumns],
    shifts: list[tuple[float, str | None]],
) -> tuple[float, float]:
    """Return (start, end) of the run: RunStart/RunEnd, else the first/last record time."""
    arrays = [a for s in stations for a in (s.t, s.part_t)]
    arrays += [a for ln in lines for a in (ln.release_t, ln.exit_t)]
    arrays.append(np.array([t for t, _ in shifts], float))
    arrays = [a for a in arrays if len(a)]
    lo = min((float(a.min()) for a in arrays), default=0.0)
    hi = max((float(a.max()) for a in arrays), default=lo)
    start = float(run_start.t) if run_start is not None else lo
    end = max(float(t) for t in run_end_ts) if run_end_ts else hi
    return start, max(end, start)


_LINE_STATION = attrgetter("line", "station")
_LINE = attrgetter("line")
_STATION = attrgetter("station")
_T = attrgetter("t")
_POWER = attrgetter("power_kw")
_PRI = attrgetter("planned_cycle_time_s")
_PART_ID = attrgetter("part_id")
_LINE_T = attrgetter("line", "t")
_EXIT_FIELDS = attrgetter("line", "t", "outcome", "flow_time_s", "part_id", "order_id")


class _TooManyCombosError(Exception):
    """More distinct combinations than ``_Combos.limit``: code the records another way."""


class _Combos(dict):
    """``(line, station, value, *extra)`` -> id of the combination, numbered on first sight.

    A stream has few distinct combinations, so one dict lookup per record codes the station,
    the value and the extras together. ``KeyError`` for an unknown station or a station under
    another line, ``ValueError`` naming ``name`` for an unknown value; ``_TooManyCombosError``
    past ``limit`` combinations.
    """

    def __init__(
        self, keys: dict[tuple[str, str], int], codes: dict, limit: int, name: str
    ) -> None:
        super().__init__()
        self.keys, self.codes, self.limit, self.name = keys, codes, limit, name
        self.table: list[tuple[int, int, tuple]] = []  # (station index, code, extras)

    def __missing__(self, key: tuple) -> int:
        if len(self.table) >= self.limit:
            raise _TooManyCombosError
        if key[2] not in self.codes:
            raise ValueError(
                f"{self.name} {key[2]!r} is not one of {', '.join(map(str, self.codes))}"
            )
        self.table.append((self.keys[(key[0], key[1])], self.codes[key[2]], key[3:]))
        self[key] = new = len(self.table) - 1
        return new


#: Most combinations coded by one dict; past it, float extras are read in their own pass.
_COMBO_LIMIT = 1 << 14


def _coded(
    items: list,
    keys: dict[tuple[str, str], int],
    attr: str,
    codes: dict,
    *extra: str,
    limit: int = 1 << 62,
) -> tuple[np.ndarray, list[tuple[int, int, tuple]]]:
    """Return each record's combination id and the combinations (station index, code of
    ``attr``, values of ``extra``), reading every record once (what counts with millions)."""
    combos = _Combos(keys, codes, limit, attr)
    getter = attrgetter("line", "station", attr, *extra)
    ids = np.fromiter(map(combos.__getitem__, map(getter, items)), np.int32, len(items))
    return ids, combos.table


def _per_record(ids: np.ndarray, values: list, dtype: object) -> np.ndarray:
    """Return ``values[ids]``: one value per record from one value per combination."""
    if dtype is object:
        table = np.empty(len(values), object)
        table[:] = values
    else:
        table = np.array(values, dtype)
    return table[ids]


@dataclass(slots=True)
class StateRows:
    """State records as columns, in record order; ``idx`` is each record's station index."""

    idx: np.ndarray  # station index
    code: np.ndarray  # STATE_CODES, MATERIAL_STARVED
    reason: np.ndarray  # object: reason of DOWN/MINOR_STOP/STARVED, else None
    t: np.ndarray
    power_kw: np.ndarray


@dataclass(slots=True)
class PartRows:
    """Part records as columns, in record order; ``idx`` is each record's station index."""

    idx: np.ndarray
    result: np.ndarray  # RESULT_CODES
    t: np.ndarray
    pri_s: np.ndarray


def _state_table(
    states: list[StateChange], keys: dict[tuple[str, str], int]
) -> tuple[np.ndarray, list[tuple[int, int, object, object]], bool]:
    """Return each state record's combination id, the combinations (station index, code,
    reason, power) and whether power is in them (it is read per record past
    ``_COMBO_LIMIT`` combinations: then the combinations' power is None).

    Station, state, reason and power come from one dict lookup per record (power per state
    and station rarely varies). The reason is kept for DOWN, MINOR_STOP and STARVED (else
    None); STARVED with reason "material" has the code MATERIAL_STARVED.
    """
    with_power = True
    try:
        ids, table = _coded(
            states, keys, "state", STATE_CODES, "reason", "power_kw", limit=_COMBO_LIMIT
        )
    except _TooManyCombosError:
        ids, table = _coded(states, keys, "state", STATE_CODES, "reason")
        with_power = False
    with_reason = {STATE_CODES[s] for s in REASON_STATES}
    starved = STATE_CODES[StationState.STARVED]
    rows = []
    for idx, code, (reason, *power) in table:
        rows.append(
            (
                idx,
                MATERIAL_STARVED if code == starved and reason == "material" else code,
                reason if code in with_reason else None,
                power[0] if with_power else None,
            )
        )
    return ids, rows, with_power


def state_rows(states: list[StateChange], keys: dict[tuple[str, str], int]) -> StateRows:
    """Return the columns of the state records (see ``_state_table``)."""
    ids, table, with_power = _state_table(states, keys)
    n = len(states)
    if with_power:
        power = _per_record(ids, [c[3] for c in table], float)
    else:
        power = np.fromiter(map(_POWER, states), float, n)
    return StateRows(
        idx=_per_record(ids, [c[0] for c in table], np.int32),
        code=_per_record(ids, [c[1] for c in table], np.int8),
        reason=_per_record(ids, [c[2] for c in table], object),
        t=np.fromiter(map(_T, states), float, n),
        power_kw=power,
    )


def _part_table(
    parts: list[PartDone], keys: dict[tuple[str, str], int]
) -> tuple[np.ndarray, list[tuple[int, int, tuple]], bool]:
    """Return each part record's combination id, the combinations (station index, result
    code, (PRI,) or ()) and whether PRI is in them (as ``_state_table`` does for power)."""
    try:
        ids, table = _coded(
            parts, keys, "result", RESULT_CODES, "planned_cycle_time_s", limit=_COMBO_LIMIT
        )
        return ids, table, True
    except _TooManyCombosError:
        ids, table = _coded(parts, keys, "result", RESULT_CODES)
        return ids, table, False


def part_rows(parts: list[PartDone], keys: dict[tuple[str, str], int]) -> PartRows:
    """Return the columns of the part records (PRI per station and result read as state
    power is, see ``_state_table``)."""
    ids, table, with_pri = _part_table(parts, keys)
    n = len(parts)
    if with_pri:
        pri = _per_record(ids, [c[2][0] for c in table], float)
    else:
        pri = np.fromiter(map(_PRI, parts), float, n)
    return PartRows(
        idx=_per_record(ids, [c[0] for c in table], np.int32),
        result=_per_record(ids, [c[1] for c in table], np.int8),
        t=np.fromiter(map(_T, parts), float, n),
        pri_s=pri,
    )


def _station_columns(
    pairs: list[tuple[str, str]], sc: StateRows, pc: PartRows
) -> list[StationColumns]:
    """Build per-station state and part columns with stable sorts by station.

    Each column is put in (station, time) order once; a station's arrays are slices of it
    (one copy of the run's columns, not one per station and one flat).
    """
    n_st = len(pairs)
    s_order, s_bounds = station_order(sc.idx, sc.t, n_st)
    p_order, p_bounds = station_order(pc.idx, pc.t, n_st)
    t, code, power, reason = (a[s_order] for a in (sc.t, sc.code, sc.power_kw, sc.reason))
    part_t, result, pri = (a[p_order] for a in (pc.t, pc.result, pc.pri_s))
    out = []
    for i, (ln, st) in enumerate(pairs):
        s = slice(s_bounds[i], s_bounds[i + 1])
        p = slice(p_bounds[i], p_bounds[i + 1])
        out.append(
            StationColumns(ln, st, t[s], code[s], power[s], reason[s], part_t[p], result[p], pri[p])
        )
    return out


def station_order(
    idx: np.ndarray, t: np.ndarray, n: int, sort_time: bool = True
) -> tuple[np.ndarray, list[int]]:
    """Return the positions of the items sorted by (group, time), stably, and the bounds of
    each group's run in that order (group ``i`` is ``bounds[i]:bounds[i + 1]``).

    A stable sort on the group alone (a radix sort for small ints) is enough when every
    group is already in time order, as in a simulator's stream; otherwise a lexsort
    (``sort_time=False``: stream order within each group, whatever the times).
    """
    if len(idx) == 0:
        order = np.empty(0, np.int64)
    else:
        order = np.argsort(idx.astype(np.int16) if n < 2**15 else idx, kind="stable")
        g, ts = idx[order], t[order]
        if sort_time and not np.all((g[1:] != g[:-1]) | (ts[1:] >= ts[:-1])):
            order = np.lexsort((t, idx))
    bounds = np.searchsorted(idx[order], np.arange(n + 1)).tolist()
    return order, bounds


def judged_part_ids(parts: list[PartDone], result: np.ndarray) -> set[str]:
    """Return ids of parts that had a scrap or rework judgement at any station.

    ``result`` holds the RESULT_CODES of ``parts``, in the same order.
    """
    bad = np.flatnonzero(result != RESULT_CODES["good"])
    return set(map(_PART_ID, _gather(parts, bad)))


@dataclass(slots=True)
class FlowCols:
    """Columns of the release and exit records; lines coded by their index (-1: unknown)."""

    release_line: np.ndarray
    release_t: np.ndarray
    exit_line: np.ndarray
    exit_t: np.ndarray
    exit_finished: np.ndarray  # bool
    exit_flow_s: np.ndarray
    exit_part_id: np.ndarray | None  # object: part ids (None when ``exit_bad`` is given)
    exit_order: np.ndarray  # object: order ids (None: a part made without an order)
    #: bool: the part had a scrap or rework judgement (a streamed run knows it at the exit)
    exit_bad: np.ndarray | None = None


def _flow_cols(
    releases: list[PartReleased],
    exits: list[PartLeft],
    line_of: dict[str, int],
) -> FlowCols:
    """Return the columns of release and exit records."""
    # One pass over the records per kind (touching millions of scattered objects is what
    # costs), then columns from the transposed tuples.
    rel_lines, rel_times = _transpose(releases, _LINE_T, 2)
    n = len(exits)
    lines, times, outcomes, flows, part_ids, order_ids = _transpose(exits, _EXIT_FIELDS, 6)
    ids = np.empty(n, object)
    ids[:] = part_ids
    orders = np.empty(n, object)
    orders[:] = order_ids
    return FlowCols(
        release_line=_codes(rel_lines, line_of),
        release_t=np.fromiter(rel_times, float, len(releases)),
        exit_line=_codes(lines, line_of),
        exit_t=np.fromiter(times, float, n),
        exit_finished=np.fromiter(map(eq, outcomes, repeat("finished")), bool, n),
        exit_flow_s=np.fromiter(flows, float, n),
        exit_part_id=ids,
        exit_order=orders,
    )


def _line_columns(
    structure: list[tuple[str, list[str]]], flow: FlowCols, bad_parts: set[str]
) -> list[LineColumns]:
    """Build release and exit columns of every line of ``structure``."""
    if flow.exit_bad is not None:
        good = ~flow.exit_bad
    else:
        n = len(flow.exit_part_id)  # type: ignore[arg-type]
        good = ~np.fromiter(map(bad_parts.__contains__, flow.exit_part_id), bool, n)  # type: ignore[arg-type]
    finished = flow.exit_finished
    out = []
    for j, (ln, stations) in enumerate(structure):
        mine = flow.exit_line == j
        out.append(
            LineColumns(
                line=ln,
                stations=stations,
                release_t=np.sort(flow.release_t[flow.release_line == j]),
                exit_t=flow.exit_t[mine],
                exit_finished=finished[mine],
                exit_flow_s=flow.exit_flow_s[mine],
                exit_first_pass=finished[mine] & good[mine],
                exit_order=flow.exit_order[mine],
            )
        )
    return out


def _transpose(items: list, getter: Callable[[Any], Any], width: int) -> list[tuple]:
    """Return the attributes read by ``getter`` as ``width`` columns (tuples), in one pass."""
    cols = list(zip(*map(getter, items), strict=True))
    return cols if cols else [()] * width


def _codes(values: tuple, index: dict[str, int]) -> np.ndarray:
    """Return ``index[v]`` for each value (-1 for a value not there)."""
    return np.fromiter(map(index.get, values, repeat(-1)), np.int32, len(values))


class GrowingArray:
    """One column that grows in place: its buffer's capacity grows by a quarter when full,
    so a long run's column is never a list of chunks to concatenate (and free) at the end,
    and carries little spare capacity. ``view()`` is a slice of the buffer."""

    __slots__ = ("buf", "n")

    def __init__(self, empty: np.ndarray | None = None) -> None:
        self.buf = np.empty(0) if empty is None else empty[:0].copy()
        self.n = 0

    def add(self, values: np.ndarray) -> None:
        """Append ``values`` (the column's type widens to hold them, as numpy promotes)."""
        need = self.n + len(values)
        if need > len(self.buf) or self.buf.dtype != values.dtype:
            dtype = np.result_type(self.buf, values)
            grown = np.empty(max(need, len(self.buf) + len(self.buf) // 4), dtype)
            grown[: self.n] = self.buf[: self.n]
            self.buf = grown
        self.buf[self.n : need] = values
        self.n = need

    def view(self) -> np.ndarray:
        """Return the values so far (no copy)."""
        return self.buf[: self.n]


class GrowingColumns:
    """Columns of one kind (a column dataclass) that grow in place as batches come: each
    array field a ``GrowingArray``. Fields may differ in length (releases and exits); a
    field that is None or a list is kept as the latest batch gives it."""

    def __init__(self, empty: Any) -> None:
        self._cls = type(empty)
        self._arrays: dict[str, GrowingArray] = {}
        self._latest: dict[str, Any] = {}
        self.add(empty)

    def add(self, chunk: Any) -> None:
        """Append the columns of one batch."""
        for name in self._cls.__slots__:
            value = getattr(chunk, name)
            if value is None or isinstance(value, list):
                self._latest[name] = value
            elif name in self._arrays:
                self._arrays[name].add(value)
            else:
                self._arrays[name] = GrowingArray(value)
                self._arrays[name].add(value)

    def view(self) -> Any:
        """Return the columns of every batch so far (slices of the buffers, no copy)."""
        return self._cls(
            **{
                name: self._latest[name] if name in self._latest else self._arrays[name].view()
                for name in self._cls.__slots__
            }
        )


def _by_station(cols: Any) -> Any:
    """Return state or part columns without the station index (kept per station)."""
    cols.idx = None
    return cols


class _PerStation:
    """State or part columns kept per station, in stream order: batches wait until they
    hold ``rows`` records, then go to each station's buffers in one split."""

    def __init__(self, empty: StateRows | PartRows, stations: int, rows: int = 20_000) -> None:
        self.stations = [
            GrowingColumns(_by_station(type(empty)(*_fields(empty)))) for _ in range(stations)
        ]
        self._waiting: list[Any] = []
        self._rows, self._limit = 0, rows

    def add(self, cols: StateRows | PartRows) -> None:
        """Take one batch's columns."""
        self._waiting.append(cols)
        self._rows += len(cols.t)
        if self._rows >= self._limit:
            self.flush()

    def flush(self) -> None:
        """Hand the waiting batches to the stations."""
        if self._waiting:
            cls = type(self._waiting[0])
            joined = cls(
                *(np.concatenate(f) for f in zip(*map(_fields, self._waiting), strict=True))
            )
            _add_per_station(self.stations, joined)
            self._waiting, self._rows = [], 0


def _fields(cols: Any) -> list:
    return [getattr(cols, n) for n in type(cols).__slots__]


def _add_per_station(stations: list[GrowingColumns], cols: StateRows | PartRows) -> None:
    """Append state or part columns to each station's, in stream order."""
    order, bounds = station_order(cols.idx, cols.t, len(stations), sort_time=False)
    names = [n for n in type(cols).__slots__ if n != "idx"]
    arrays = {n: getattr(cols, n)[order] for n in names}
    for i, growing in enumerate(stations):
        if bounds[i] < bounds[i + 1]:
            part = slice(bounds[i], bounds[i + 1])
            growing.add(type(cols)(None, **{n: a[part] for n, a in arrays.items()}))


def _time_ordered(cols: Any) -> Any:
    """Return one station's columns in time order (a stable sort, only if they are not)."""
    t = cols.t
    if len(t) < 2 or bool(np.all(t[1:] >= t[:-1])):
        return cols
    order = np.argsort(t, kind="stable")
    return type(cols)(
        **{
            n: None if getattr(cols, n) is None else getattr(cols, n)[order]
            for n in type(cols).__slots__
        }
    )


@dataclass(slots=True)
class _Compact:
    """State or part columns of a streamed run as kept while it runs: the time and the id of
    the record's (code, reason, power) or (result, PRI) combination in ``_Combinations``."""

    idx: np.ndarray | None  # station index (None once kept per station)
    t: np.ndarray
    combo: np.ndarray


class _Combinations:
    """The distinct value combinations of a run's state or part records, numbered on first
    sight; values are told apart by their exact text (``repr``: -0.0 is not 0.0)."""

    def __init__(self, width: int) -> None:
        self._ids: dict[tuple, int] = {}
        self.values: list[tuple] = []
        self.width = width

    def compact(self, ids: np.ndarray, table: list[tuple], t: np.ndarray) -> _Compact:
        """Return one batch's columns from its per-batch combination ids and table rows
        (station index, then ``width`` values)."""
        own = []
        for row in table:
            values = tuple(row[1 : 1 + self.width])
            key = tuple(v if isinstance(v, str | None) else repr(v) for v in values)
            n = self._ids.setdefault(key, len(self.values))
            if n == len(self.values):
                self.values.append(values)
            own.append(n)
        dtype = np.int16 if len(self.values) < 2**15 else np.int32
        return _Compact(
            _per_record(ids, [r[0] for r in table], np.int32), t, _per_record(ids, own, dtype)
        )

    def column(self, k: int, combo: np.ndarray, dtype: object) -> np.ndarray:
        """Return value ``k`` of each record's combination."""
        return _per_record(combo, [v[k] for v in self.values], dtype)


_EMPTY_COMPACT = _Compact(np.empty(0, np.int32), np.empty(0), np.empty(0, np.int16))


class ColumnAccumulator:
    """Build a run's ``PlantColumns`` from record batches while the run streams them.

    Each batch is turned into numeric columns at once (the same per-record reading as
    ``to_columns``, so the result is the same), and no record is kept but the run start and
    the orders (a few per day): process samples and buffer levels are dropped, states,
    parts, flow and stock records become a few numbers each. Part ids are not kept either:
    a part's scrap or rework judgements come before it leaves the line, so each exit is
    marked first-pass or not when it arrives, and a judged part's id is dropped once it
    has left. The first record must be the ``RunStart`` that names every station.
    """

    def __init__(self) -> None:
        self._run_starts: list[RunStart] = []
        self._structure: list[tuple[str, list[str]]] | None = None
        self._keys: dict[tuple[str, str], int] = {}
        self._line_of: dict[str, int] = {}
        self._bad_parts: set[str] = set()
        self._states: _PerStation = _PerStation(state_rows([], {}), 0)
        self._parts: _PerStation = _PerStation(part_rows([], {}), 0)
        # State and part records are kept as (time, combination id) while every batch's
        # combinations fit ``_COMBO_LIMIT`` (10-12 bytes a record, not 25 and 17), as full
        # columns from the first batch that does not and once the columns are built.
        self._compact = True
        self._state_combos = _Combinations(3)  # code, reason, power
        self._part_combos = _Combinations(2)  # result, PRI
        self._flows = GrowingColumns(self._flow([], []))
        self._run_end_ts: list[float] = []
        self._shifts: list[tuple[float, str | None]] = []
        self._orders: list[OrderEvent] = []
        self._materials: dict[str, int] = {}
        self._causes: dict[str, int] = {}
        self._stock = GrowingColumns(stock_columns([], self._materials, self._causes))

    @property
    def structure(self) -> list[tuple[str, list[str]]]:
        """``[(line, [stations in flow order])]`` from the run start (empty before it)."""
        return self._structure or []

    @property
    def run_start(self) -> RunStart | None:
        """The run's ``RunStart`` record, once added."""
        return self._run_starts[0] if self._run_starts else None

    @property
    def run_end_times(self) -> list[float]:
        """Times of the ``RunEnd`` records added (one for a whole run)."""
        return self._run_end_ts

    @property
    def shift_changes(self) -> list[tuple[float, str | None]]:
        """``(time, shift)`` of every shift change added, in the order added."""
        return self._shifts

    def add(self, records: list[Record]) -> None:
        """Take one batch of the run's records, in emission order."""
        with no_gc():
            self._add(_split_by_kind(records))

    def _add(self, by_kind: dict[type, list]) -> None:
        if by_kind[RunStart]:
            self._run_starts += by_kind[RunStart]
            check_one_run(self._run_starts)
            if self._structure is None:
                self._structure = plant_structure(self._run_starts, [], [])
                pairs = [(ln, st) for ln, sts in self._structure for st in sts]
                self._keys = {pair: i for i, pair in enumerate(pairs)}
                self._line_of = {ln: j for j, (ln, _) in enumerate(self._structure)}
                self._states = _PerStation(_EMPTY_COMPACT, len(pairs))
                self._parts = _PerStation(_EMPTY_COMPACT, len(pairs))
        states: list[StateChange] = by_kind[StateChange]  # type: ignore[assignment]
        parts: list[PartDone] = by_kind[PartDone]  # type: ignore[assignment]
        if self._structure is None and (states or parts):
            raise ValueError("records: a streamed run must start with its run_start")
        try:
            if states:
                self._add_states(states)
            if parts:
                self._add_parts(parts)
        except KeyError as exc:
            raise ValueError(
                f"records: {exc.args[0]!r}: a station not in run_start or an unknown value"
            ) from None
        self._orders += by_kind[OrderEvent]  # type: ignore[arg-type] (before their exits)
        if by_kind[PartReleased] or by_kind[PartLeft]:
            self._add_flows(by_kind[PartReleased], by_kind[PartLeft])  # type: ignore[arg-type]
        self._run_end_ts += [r.t for r in by_kind[RunEnd]]
        self._shifts += [(r.t, r.shift) for r in by_kind[ShiftChange]]  # type: ignore[attr-defined]
        if by_kind[StockLevel]:
            self._add_stock(by_kind[StockLevel])  # type: ignore[arg-type]

    def _add_states(self, states: list[StateChange]) -> None:
        if self._compact:
            ids, table, with_power = _state_table(states, self._keys)
            if with_power:
                t = np.fromiter(map(_T, states), float, len(states))
                self._states.add(self._state_combos.compact(ids, table, t))
                return
            self._to_full()
        self._states.add(state_rows(states, self._keys))

    def _add_parts(self, parts: list[PartDone]) -> None:
        if self._compact:
            ids, table, with_pri = _part_table(parts, self._keys)
            if with_pri:
                t = np.fromiter(map(_T, parts), float, len(parts))
                rows = [(idx, code, pri) for idx, code, (pri,) in table]
                self._parts.add(self._part_combos.compact(ids, rows, t))
                result = _per_record(ids, [r[1] for r in table], np.int8)
                self._bad_parts.update(judged_part_ids(parts, result))
                return
            self._to_full()
        part_cols = part_rows(parts, self._keys)
        self._parts.add(part_cols)
        self._bad_parts.update(judged_part_ids(parts, part_cols.result))

    def _to_full(self) -> None:
        """Turn the state and part columns kept so far into full columns, and keep full
        columns from now on."""
        self._states.flush()
        self._parts.flush()
        states = _PerStation(state_rows([], {}), len(self._states.stations))
        parts = _PerStation(part_rows([], {}), len(self._parts.stations))
        # One station at a time, each station's compact buffers dropped once expanded.
        for i, full in enumerate(states.stations):
            growing, self._states.stations[i] = self._states.stations[i], None  # type: ignore[call-overload]
            full.add(self._full_states(growing.view()))
        for i, full in enumerate(parts.stations):
            growing, self._parts.stations[i] = self._parts.stations[i], None  # type: ignore[call-overload]
            full.add(self._full_parts(growing.view()))
        self._states, self._parts, self._compact = states, parts, False

    def _full_states(self, cols: _Compact) -> StateRows:
        combos, c = self._state_combos, cols.combo
        return StateRows(
            None,  # type: ignore[arg-type]
            combos.column(0, c, np.int8),
            combos.column(1, c, object),
            cols.t,
            combos.column(2, c, float),
        )

    def _full_parts(self, cols: _Compact) -> PartRows:
        combos, c = self._part_combos, cols.combo
        return PartRows(None, combos.column(0, c, np.int8), cols.t, combos.column(1, c, float))  # type: ignore[arg-type]

    def _add_flows(self, releases: list[PartReleased], exits: list[PartLeft]) -> None:
        self._flows.add(self._flow(releases, exits))

    def _add_stock(self, levels: list[StockLevel]) -> None:
        self._stock.add(stock_columns(levels, self._materials, self._causes))

    def _flow(self, releases: list[PartReleased], exits: list[PartLeft]) -> FlowCols:
        """Return the flow columns of one batch, each exit marked judged (scrap or rework
        somewhere) or not, without its part id; judged parts that left are forgotten."""
        flow = _flow_cols(releases, exits, self._line_of)
        ids = flow.exit_part_id
        bad = np.fromiter(map(self._bad_parts.__contains__, ids), bool, len(ids))  # type: ignore[arg-type]
        self._bad_parts.difference_update(ids[bad])  # type: ignore[index]
        flow.exit_part_id, flow.exit_bad = None, bad
        return flow

    def columns(self) -> PlantColumns:
        """Return the columns of everything added so far."""
        structure = self._structure or []
        pairs = [(ln, st) for ln, sts in structure for st in sts]
        stations = []
        if self._compact:  # expanded once, in place (the compact buffers are dropped)
            self._to_full()
        self._states.flush()
        self._parts.flush()
        per_station = zip(pairs, self._states.stations, self._parts.stations, strict=True)
        for (ln, st), states, parts in per_station:
            sc, pc = _time_ordered(states.view()), _time_ordered(parts.view())
            stations.append(
                StationColumns(
                    ln, st, sc.t, sc.code, sc.power_kw, sc.reason, pc.t, pc.result, pc.pri_s
                )
            )
        with no_gc():
            return assemble_stations(
                structure,
                self._run_starts[0] if self._run_starts else None,
                self._run_end_ts,
                stations,
                set(),  # every exit is marked already (``_flow``)
                self._flows.view(),
                self._shifts,
                self._orders,
                self._stock.view(),
            )
