"""One pass over a record stream into per-station and per-line numpy columns.

The KPI modules never see record objects: they work on the arrays built here. A record stream
with a few million records is split by kind once, each column is pulled out with one list
comprehension, and per-station arrays come from a stable sort on the station index. The
stream is what the simulator emits or what an InfluxDB read-back rebuilds: records from
``plant_sim.records``, in time order per station (out-of-order stations are sorted here).

No I/O here; see ``analytics.eventlog`` for files.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from operator import attrgetter, itemgetter

import numpy as np

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
_REASON_STATES = (StationState.DOWN, StationState.MINOR_STOP, StationState.STARVED)


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
    stock: list[StockLevel] = field(default_factory=list)

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
        codes = np.fromiter(map(codes_of.__getitem__, map(type, records)), np.int8, len(records))
    except KeyError as exc:
        raise ValueError(f"records: {exc.args[0].__name__} is not a record type") from None
    return {cls: _gather(records, np.flatnonzero(codes == codes_of[cls])) for cls in _KINDS}


def _gather(items: list, idx: np.ndarray) -> list:
    """Return ``[items[i] for i in idx]`` quickly."""
    if len(idx) == 0:
        return []
    if len(idx) == 1:
        return [items[int(idx[0])]]
    return list(itemgetter(*idx.tolist())(items))


def _structure(
    run_starts: list, states: list[StateChange], parts: list[PartDone]
) -> list[tuple[str, list[str]]]:
    """Return ``[(line, [stations in flow order])]`` from RunStart, then order of appearance."""
    lines = [(str(d["line"]), [str(s) for s in d["stations"]]) for d in run_starts[0].lines] \
        if run_starts else []
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
) -> tuple[list[tuple[str, list[str]]], np.ndarray, np.ndarray]:
    """Return the plant structure and the station index of every state and part record.

    Fast path: the stations named in RunStart. A station missing there (or no RunStart)
    falls back to discovering stations in order of appearance.
    """
    structure = _structure(run_starts, [], []) if run_starts else []
    for attempt in range(2):
        keys = {pair: i for i, pair in enumerate(
            (ln, st) for ln, sts in structure for st in sts)}
        try:
            return structure, _station_index(states, keys), _station_index(parts, keys)
        except KeyError:
            if attempt:
                raise
            structure = _structure(run_starts, states, parts)
    raise AssertionError("unreachable")


@contextmanager
def no_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector: millions of live records make its passes costly."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def to_columns(records: Iterable[Record]) -> PlantColumns:
    """Turn one run's record stream into columns. Raises ``ValueError`` on several runs."""
    with no_gc():
        return _to_columns(records)


def _to_columns(records: Iterable[Record]) -> PlantColumns:
    """Do the work of ``to_columns``."""
    recs = records if isinstance(records, list) else list(records)
    by_kind = _split_by_kind(recs)
    run_starts = by_kind[RunStart]
    if len({r.run_id for r in run_starts}) > 1:
        raise ValueError(
            f"records: the stream holds {len(run_starts)} runs; pass one run's records"
        )
    states: list[StateChange] = by_kind[StateChange]  # type: ignore[assignment]
    parts: list[PartDone] = by_kind[PartDone]  # type: ignore[assignment]
    structure, s_idx, p_idx = _station_keys(run_starts, states, parts)
    pairs = [(ln, st) for ln, sts in structure for st in sts]
    stations = _station_columns(states, parts, pairs, s_idx, p_idx)
    bad_parts = _non_good_part_ids(parts)
    line_cols = [
        _line_columns(ln, sts, by_kind[PartReleased], by_kind[PartLeft], bad_parts)  # type: ignore[arg-type]
        for ln, sts in structure
    ]
    shifts = [(r.t, r.shift) for r in by_kind[ShiftChange]]  # type: ignore[attr-defined]
    rs = run_starts[0] if run_starts else None
    start_s, end_s = _run_span(rs, by_kind[RunEnd], stations, line_cols, shifts)
    return PlantColumns(
        run_id=rs.run_id if rs else None,  # type: ignore[union-attr]
        scenario=rs.scenario if rs else None,  # type: ignore[union-attr]
        start_s=start_s,
        end_s=end_s,
        lines=line_cols,
        stations=stations,
        shifts=sorted(shifts, key=lambda x: x[0]),
        orders=by_kind[OrderEvent],  # type: ignore[arg-type]
        stock=by_kind[StockLevel],  # type: ignore[arg-type]
    )


def _run_span(
    run_start: RunStart | None,
    run_ends: list,
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
    end = max(float(r.t) for r in run_ends) if run_ends else hi
    return start, max(end, start)


_LINE_STATION = attrgetter("line", "station")
_LINE = attrgetter("line")
_STATION = attrgetter("station")


def _station_index(items: list, keys: dict[tuple[str, str], int]) -> np.ndarray:
    """Return the station index of each record; ``KeyError`` for an unknown station.

    Station names unique across lines are looked up by name alone (no tuple per record); the
    line must still match, which a second vectorised check confirms.
    """
    by_name = {st: i for (_, st), i in keys.items()}
    if len(by_name) < len(keys):
        return np.fromiter(map(keys.__getitem__, map(_LINE_STATION, items)), np.int32,
                           len(items))
    idx = np.fromiter(map(by_name.__getitem__, map(_STATION, items)), np.int32, len(items))
    line_of = {ln: j for j, ln in enumerate(dict.fromkeys(ln for ln, _ in keys))}
    station_line = np.array([line_of[ln] for ln, _ in keys], np.int32)
    lines = np.fromiter(map(line_of.__getitem__, map(_LINE, items)), np.int32, len(items))
    if len(idx) and not np.array_equal(station_line[idx], lines):
        bad = int(np.flatnonzero(station_line[idx] != lines)[0])
        raise KeyError((items[bad].line, items[bad].station))
    return idx


def _station_columns(
    states: list[StateChange],
    parts: list[PartDone],
    pairs: list[tuple[str, str]],
    s_idx: np.ndarray,
    p_idx: np.ndarray,
) -> list[StationColumns]:
    """Build per-station state and part columns with stable sorts by station."""
    n_st = len(pairs)
    s_t = np.fromiter(map(attrgetter("t"), states), float, len(states))
    s_code = np.fromiter(map(STATE_CODES.__getitem__, map(attrgetter("state"), states)),
                         np.int8, len(states))
    s_pow = np.fromiter(map(attrgetter("power_kw"), states), float, len(states))
    reason = np.full(len(states), None, dtype=object)
    need = np.flatnonzero(np.isin(s_code, [STATE_CODES[s] for s in _REASON_STATES]))
    if len(need):
        reason[need] = [r.reason for r in _gather(states, need)]
        mat = need[(s_code[need] == STATE_CODES[StationState.STARVED])
                   & (reason[need] == "material")]
        s_code[mat] = MATERIAL_STARVED
    p_t = np.fromiter(map(attrgetter("t"), parts), float, len(parts))
    p_res = np.fromiter(map(RESULT_CODES.__getitem__, map(attrgetter("result"), parts)),
                        np.int8, len(parts))
    p_pri = np.fromiter(map(attrgetter("planned_cycle_time_s"), parts), float, len(parts))
    s_groups = _groups(s_idx, s_t, n_st)
    p_groups = _groups(p_idx, p_t, n_st)
    out = []
    for i, (ln, st) in enumerate(pairs):
        si, pi = s_groups[i], p_groups[i]
        out.append(StationColumns(ln, st, s_t[si], s_code[si], s_pow[si], reason[si],
                                  p_t[pi], p_res[pi], p_pri[pi]))
    return out


def _groups(idx: np.ndarray, t: np.ndarray, n: int) -> list[np.ndarray]:
    """Return, per group, the positions of its items sorted by (group, time), stably."""
    order = np.lexsort((t, idx)) if len(idx) else np.empty(0, np.int64)
    bounds = np.searchsorted(idx[order], np.arange(n + 1))
    return [order[bounds[i]:bounds[i + 1]] for i in range(n)]


def _non_good_part_ids(parts: list[PartDone]) -> set[str]:
    """Return ids of parts that had a scrap or rework judgement at any station."""
    return {p.part_id for p in parts if p.result != "good"}


def _line_columns(
    line: str,
    stations: list[str],
    releases: list[PartReleased],
    exits: list[PartLeft],
    bad_parts: set[str],
) -> LineColumns:
    """Build release and exit columns of one line."""
    rel = np.array([r.t for r in releases if r.line == line], float)
    mine = [e for e in exits if e.line == line]
    finished = np.array([e.outcome == "finished" for e in mine], bool)
    first = np.array(
        [e.outcome == "finished" and e.part_id not in bad_parts for e in mine], bool
    )
    return LineColumns(
        line=line,
        stations=stations,
        release_t=np.sort(rel),
        exit_t=np.array([e.t for e in mine], float),
        exit_finished=finished,
        exit_flow_s=np.array([e.flow_time_s for e in mine], float),
        exit_first_pass=first,
    )
