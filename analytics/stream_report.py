"""A run's KPI report folded from its records while it streams, not from the whole run.

``StreamedReport.add(batch)`` takes the records of a streaming run (``twin run``) one batch
at a time; ``report()`` returns what ``compute_report(to_columns(records))`` returns for all
of them, value for value. State and part records are not kept: once a shift occurrence is
over (a record later than its end has come), each station's records of that occurrence are
folded into its elements for that bin (``station_bins`` on the occurrence's records, so the
sums are the same sums in the same order) and its stops into its downtime by reason. What
is kept grows with the run only where an exact result needs the values themselves:

- per finished exit its flow time (8 bytes, in ``LineFlowFold``): the flow-time percentiles
  need every value. Releases, exits and stock records are otherwise folded as they come
  (``analytics.flow.LineFlowFold``, ``FirstPassBins``, ``analytics.supply.StockFold``): WIP
  as a time-weighted area, counts and running sums of flow and lead times (an exit's lead
  time is taken when it arrives, its order released before), first-pass exits per shift
  occurrence as occurrences are folded, stock-outs and hours out per material;
- the orders (a few per day, for the delivery KPIs) and the shift changes;
- per shift occurrence and station its elements (27 numbers).

Each station's state times and codes go, as they are taken, to its line's
``LineBottlenecks``, which folds the bottleneck analysis and holds only what is still open
(the active periods and work runs that may still matter, not the records).

Records must come in time order per station (releases and exits per line, stock records per
material), as a simulator emits them; one earlier than an occurrence already folded (or than
the flow or stock records folded) is refused (``ValueError``). No I/O here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from analytics.bottleneck import LineBottlenecks
from analytics.columns import (
    ColumnAccumulator,
    GrowingColumns,
    PartRows,
    PlantColumns,
    StateRows,
    StationColumns,
    assemble_stations,
    judged_part_ids,
    part_rows,
    state_rows,
    station_order,
    stock_columns,
)
from analytics.elements import BinColumns, station_bins
from analytics.flow import (
    FirstPassBins,
    LineFlowFold,
    flows_per_line,
    lead_times,
    order_release_times,
)
from analytics.losses import STOP_CODES, ReasonLoss, add_stops
from analytics.report import PLANT, FoldedFlows, KpiReport, report_from_bins, shift_bins
from analytics.supply import StockFold
from analytics.timeline import new_stop_mask
from plant_sim.records import (
    PartDone,
    PartLeft,
    PartReleased,
    Record,
    StateChange,
    StockLevel,
)

#: Pending state and part rows that make the folding of finished shift occurrences worth it.
FOLD_ROWS = 50_000
#: Pending release, exit and stock rows that make their folding worth it (a few numpy calls
#: per line and batch otherwise; a simulated hour of plant_3lines has about 190).
FLOW_ROWS = 2_048


class _States:
    """One station's state records not folded yet, as columns in time order."""

    __slots__ = ("code", "done", "power", "prev", "reason", "t")

    def __init__(self) -> None:
        self.t = np.empty(0)
        self.code = np.empty(0, np.int8)
        self.power = np.empty(0)
        self.reason = np.empty(0, object)
        self.prev = -1  # code of the record before ``t[0]`` (-1: none)
        self.done = 0  # leading records whose stops are counted in the downtime by reason


class _Station:
    """What one station keeps while the run streams."""

    def __init__(self, line: str, station: str, bottlenecks: LineBottlenecks, index: int) -> None:
        self.line, self.station = line, station
        self.bottlenecks, self.index = bottlenecks, index  # its line's, its place in the line
        self.states = _States()
        self.part_t, self.part_pri = np.empty(0), np.empty(0)
        self.part_result = np.empty(0, np.int8)
        self.bins: BinColumns = {}  # elements of the folded bins, one array per field
        self.stops: tuple[dict, dict] = ({}, {})  # reason -> [events, seconds]: down, minor

    def take(
        self, states: StateRows | None, parts: PartRows | None, sel: tuple, floor: float
    ) -> None:
        """Append this station's new records (``sel``: its rows of ``states``, ``parts``);
        none may come before ``floor``, the end of the bins folded so far."""
        s_rows, p_rows = sel
        st = self.states
        if states is not None and len(s_rows):
            t = states.t[s_rows]
            _check_order(t, max(st.t[-1], floor) if len(st.t) else floor, self.station)
            code = states.code[s_rows]
            self.bottlenecks.add(self.index, t, code)
            st.t = np.concatenate([st.t, t])
            st.code = np.concatenate([st.code, code])
            st.power = np.concatenate([st.power, states.power_kw[s_rows]])
            st.reason = np.concatenate([st.reason, states.reason[s_rows]])
        if parts is not None and len(p_rows):
            t = parts.t[p_rows]
            last = max(self.part_t[-1], floor) if len(self.part_t) else floor
            _check_order(t, last, self.station)
            self.part_t = np.concatenate([self.part_t, t])
            self.part_result = np.concatenate([self.part_result, parts.result[p_rows]])
            self.part_pri = np.concatenate([self.part_pri, parts.pri_s[p_rows]])

    def count_stops(self, t0: float, final_end: float | None) -> None:
        """Add the stops of records whose interval end is known (all at the run end) to the
        downtime by reason: ``downtime_by_reason``'s sums, record by record in time order."""
        st = self.states
        n = len(st.t)
        upto = n if final_end is not None else n - 1
        if upto <= st.done:
            return
        t, code = st.t, st.code
        ends = np.concatenate([t[1:], [max(final_end, t[-1])]]) if final_end is not None else t[1:]
        t1 = np.inf if final_end is None else final_end
        sl = slice(st.done, upto)
        dur = np.maximum(0.0, np.minimum(ends[sl], t1) - np.maximum(t[sl], t0))
        new = new_stop_mask(np.concatenate([[st.prev], code]).astype(np.int16))[1:][sl]
        counted = new & (t[sl] >= t0) & (t[sl] <= t1)
        for value, acc in zip(STOP_CODES, self.stops, strict=True):
            add_stops(acc, code[sl] == value, st.reason[sl], dur, counted)
        st.done = upto

    def fold(self, edges: np.ndarray, end_s: float, final: bool) -> None:
        """Fold the records of bins ``edges`` (all before ``edges[-1]``, every record at the
        run end) into elements, keeping the state in force at ``edges[-1]``."""
        st = self.states
        cut = len(st.t) if final else int(np.searchsorted(st.t, edges[-1], "left"))
        p_cut = len(self.part_t) if final else int(np.searchsorted(self.part_t, edges[-1], "left"))
        cols = StationColumns(
            self.line,
            self.station,
            st.t[:cut],
            st.code[:cut],
            st.power[:cut],
            st.reason[:cut],
            self.part_t[:p_cut],
            self.part_result[:p_cut],
            self.part_pri[:p_cut],
        )
        new = station_bins(cols, end_s, edges, final)
        old = self.bins or {name: a[:0] for name, a in new.items()}
        self.bins = {name: np.concatenate([old[name], a]) for name, a in new.items()}
        self.part_t, self.part_result = self.part_t[p_cut:], self.part_result[p_cut:]
        self.part_pri = self.part_pri[p_cut:]
        keep = max(cut - 1, 0)  # the record in force at the next bin's start stays
        if keep:
            st.prev = int(st.code[keep - 1])
            st.t, st.code = st.t[keep:], st.code[keep:]
            st.power, st.reason = st.power[keep:], st.reason[keep:]
            st.done = max(st.done - keep, 0)

    def reasons(self) -> list[ReasonLoss]:
        """Return the downtime by reason: breakdowns, then minor stops, as first seen."""
        return [
            ReasonLoss(self.line, self.station, name, reason, v[0], v[1])
            for name, acc in zip(STOP_CODES.values(), self.stops, strict=True)
            for reason, v in acc.items()
        ]

    def empty_columns(self) -> StationColumns:
        """Return the station's columns with no records (its records are folded)."""
        empty = np.empty(0)
        return StationColumns(
            self.line,
            self.station,
            empty,
            np.empty(0, np.int8),
            empty,
            np.empty(0, object),
            empty,
            np.empty(0, np.int8),
            empty,
        )


def _check_order(t: np.ndarray, last: float, station: str) -> None:
    """Refuse records of a station that go back in time (they cannot be folded)."""
    if len(t) and (t[0] < last or bool(np.any(t[1:] < t[:-1]))):
        raise ValueError(f"records: {station}: state or part records out of time order")


@dataclass(slots=True)
class _FlowRows:
    """Releases and exits waiting to be folded (lines by index), each exit with its line
    lead time and first-pass flag taken when it came."""

    release_line: np.ndarray
    release_t: np.ndarray
    exit_line: np.ndarray
    exit_t: np.ndarray
    exit_finished: np.ndarray
    exit_flow_s: np.ndarray
    exit_lead_s: np.ndarray
    exit_first_pass: np.ndarray


_EXIT_ROWS = _FlowRows(
    *(np.empty(0, dtype) for dtype in (np.int32, float, np.int32, float, bool, float, float, bool))
)


class _Flows(ColumnAccumulator):
    """``ColumnAccumulator`` for everything but state and part records: it hands their
    columns to ``take`` (the report's stations), only notes which parts were judged scrap
    or rework, and folds releases, exits and stock records (``FLOW_ROWS`` at a time, and
    all of them before shift occurrences are folded) into each line's flow
    (``LineFlowFold``), its first-pass counts per shift occurrence (``FirstPassBins``) and
    the stock-outs (``StockFold``) over the run, whose end is known at the report."""

    def __init__(self, take: Callable[[StateRows | PartRows], None]) -> None:
        super().__init__()
        self._take = take
        self._lines: list[LineFlowFold] = []
        self._exit_bins: list[FirstPassBins] = []
        self._stockouts: StockFold | None = None
        self._order_released: dict[str, float] = {}  # order id -> release to its line
        self._orders_read = 0  # orders read into ``_order_released``
        self._waiting = GrowingColumns(_EXIT_ROWS)  # releases and exits not folded yet
        self._waiting_stock = GrowingColumns(stock_columns([], self._materials, self._causes))
        self._waiting_rows = 0
        self._reported = False

    def _add_states(self, states: list[StateChange]) -> None:
        self._take(state_rows(states, self._keys))

    def _add_parts(self, parts: list[PartDone]) -> None:
        cols = part_rows(parts, self._keys)
        self._take(cols)
        self._bad_parts.update(judged_part_ids(parts, cols.result))

    def _start(self) -> float:
        """Return the run start (refused without one: the flows are folded from it)."""
        if self.run_start is None:
            raise ValueError("records: a streamed run must start with its run_start")
        return float(self.run_start.t)

    def _ensure_lines(self) -> None:
        """Start each line's folds at the run start, once."""
        if not self._lines:
            t0 = self._start()
            self._lines = [LineFlowFold(t0) for _ in self.structure]
            self._exit_bins = [FirstPassBins() for _ in self.structure]

    def _add_flows(self, releases: list[PartReleased], exits: list[PartLeft]) -> None:
        new = order_release_times(self._orders[self._orders_read :])
        self._order_released.update(new)
        self._orders_read = len(self._orders)
        flow = self._flow(releases, exits)
        bad = flow.exit_bad if flow.exit_bad is not None else np.zeros(len(flow.exit_t), bool)
        leads = lead_times(flow.exit_t, flow.exit_flow_s, flow.exit_order, self._order_released)
        rows = _FlowRows(
            flow.release_line,
            flow.release_t,
            flow.exit_line,
            flow.exit_t,
            flow.exit_finished,
            flow.exit_flow_s,
            leads,
            flow.exit_finished & ~bad,
        )
        self._waiting.add(rows)
        self._wait(len(flow.release_t) + len(flow.exit_t))

    def _add_stock(self, levels: list[StockLevel]) -> None:
        self._waiting_stock.add(stock_columns(levels, self._materials, self._causes))
        self._wait(len(levels))

    def _wait(self, rows: int) -> None:
        """Count rows waiting to be folded; fold them once they are enough."""
        self._waiting_rows += rows
        if self._waiting_rows >= FLOW_ROWS:
            self._fold_waiting()

    def _fold_waiting(self) -> None:
        """Fold the waiting releases and exits into each line's folds and the waiting stock
        records into the stock-outs."""
        self._ensure_lines()
        rows, self._waiting = self._waiting.view(), GrowingColumns(_EXIT_ROWS)
        for j, (fold, bins) in enumerate(zip(self._lines, self._exit_bins, strict=True)):
            mine = rows.exit_line == j
            released = rows.release_t[rows.release_line == j]
            if not len(released) and not mine.any():
                continue
            t, flow_s, leads = rows.exit_t[mine], rows.exit_flow_s[mine], rows.exit_lead_s[mine]
            fold.add(released, t, rows.exit_finished[mine], flow_s, leads)
            bins.add(t, rows.exit_first_pass[mine])
        stock = self._waiting_stock.view()
        self._waiting_stock = GrowingColumns(stock_columns([], self._materials, self._causes))
        if len(stock.t):
            if self._stockouts is None:
                self._stockouts = StockFold(self._start())
            self._stockouts.add(stock)
        self._waiting_rows = 0

    def close_bins(self, edges: np.ndarray, final: bool) -> None:
        """Count the exits of the shift occurrences ``edges`` (see ``FirstPassBins``)."""
        self._fold_waiting()
        for bins in self._exit_bins:
            bins.close(edges, final)

    @property
    def reported(self) -> bool:
        """Whether ``plant_columns`` has been called."""
        return self._reported

    def folded(self, end_s: float) -> FoldedFlows:
        """Return the folded flows over the run, ending at ``end_s``, once every record is
        in and every bin is closed."""
        self._fold_waiting()
        lines = [ln for ln, _ in self.structure]
        per_line = {ln: fold.result(end_s) for ln, fold in zip(lines, self._lines, strict=True)}
        flow, plant = flows_per_line(per_line, end_s - self._start())
        flow[PLANT] = plant
        return FoldedFlows(
            {ln: (b.gp, b.ip) for ln, b in zip(lines, self._exit_bins, strict=True)},
            flow,
            {} if self._stockouts is None else self._stockouts.result(end_s),
        )

    def plant_columns(self, stations: list[StationColumns]) -> PlantColumns:
        """Return the run's columns with ``stations`` as its station columns and no release,
        exit or stock columns (they are folded); call it once."""
        self._reported = True
        return assemble_stations(
            self.structure,
            self.run_start,
            self.run_end_times,
            stations,
            set(),
            self._flow([], []),
            self.shift_changes,
            self._orders,
            [],
        )


class StreamedReport:
    """Build a streamed run's ``KpiReport`` from its record batches, folding state and part
    records into per-shift elements as the run goes (see the module docstring)."""

    def __init__(self) -> None:
        self._flows = _Flows(self._take)
        self._pending_states: list[StateRows] = []
        self._pending_parts: list[PartRows] = []
        self._stations: list[_Station] = []
        self._lines: dict[str, LineBottlenecks] = {}  # each line's bottleneck analysis
        self._edges: list[float] = []  # folded bin edges, from the run start
        self._latest = -np.inf  # latest record time so far

    def add(self, records: list[Record]) -> None:
        """Take one batch of the run's records, in emission order."""
        self._flows.add(records)
        if not self._stations and self._flows.structure:
            start = float(self._flows.run_start.t)  # type: ignore[union-attr] (set with structure)
            structure = self._flows.structure
            self._lines = {ln: LineBottlenecks(ln, sts, start) for ln, sts in structure}
            self._stations = [
                _Station(ln, st, self._lines[ln], j)
                for ln, sts in structure
                for j, st in enumerate(sts)
            ]
            self._edges = [start]
        if records:
            self._latest = max(self._latest, float(records[-1].t))
        rows = sum(len(c.t) for c in (*self._pending_states, *self._pending_parts))
        if rows >= FOLD_ROWS and self._closed_edges():
            self._fold(self._closed_edges(), None)

    def _take(self, rows: StateRows | PartRows) -> None:
        """Keep a batch's state or part columns until their shift occurrences are folded;
        refuse records older than the occurrences folded so far."""
        t = rows.t
        if len(self._edges) > 1 and len(t) and float(t.min()) < self._edges[-1]:
            raise ValueError(
                f"records: a state or part record at {float(t.min())} s is out of time order "
                f"(shift occurrences up to {self._edges[-1]} s are folded already)"
            )
        pending = self._pending_states if isinstance(rows, StateRows) else self._pending_parts
        pending.append(rows)  # type: ignore[arg-type]

    def _closed_edges(self) -> list[float]:
        """Return the shift changes not folded yet that a later record has passed."""
        last = self._edges[-1] if self._edges else np.inf
        return sorted({t for t, _ in self._flows.shift_changes if last < t < self._latest})

    def _fold(self, edges: list[float], end_s: float | None) -> None:
        """Hand the pending records to the stations and fold the bins up to ``edges[-1]``
        (with ``end_s``: every bin up to the run end)."""
        states = _joined(self._pending_states, StateRows)
        parts = _joined(self._pending_parts, PartRows)
        self._pending_states, self._pending_parts = [], []
        n = len(self._stations)
        s_sel = _per_station(states, n)
        p_sel = _per_station(parts, n)
        floor = self._edges[-1] if len(self._edges) > 1 else -np.inf
        bounds = np.array([self._edges[-1], *edges])
        t0 = self._edges[0]
        for i, station in enumerate(self._stations):
            station.take(states, parts, (s_sel[i], p_sel[i]), floor)
            station.count_stops(t0, end_s)
            station.fold(bounds, bounds[-1] if end_s is None else end_s, end_s is not None)
        self._flows.close_bins(bounds, end_s is not None)
        self._edges += [float(e) for e in bounds[1:]]
        if end_s is None:  # records before the folded bins are refused from now on
            for line in self._lines.values():
                line.known_until(self._edges[-1])

    def report(self) -> KpiReport:
        """Return the KPI report of every record added (the whole run, per shift too);
        once: what it needs only for the report is dropped as it goes."""
        flows = self._flows
        if flows.reported:
            raise RuntimeError("StreamedReport.report() gives the report once")
        if not self._stations or flows.run_start is None:
            raise ValueError("records: a streamed run must start with its run_start")
        if not flows.run_end_times:
            raise ValueError("records: a streamed run must end with its run_end")
        t0 = float(flows.run_start.t)
        end_s = max(max(float(t) for t in flows.run_end_times), t0)  # as ``_run_span``
        if self._latest > end_s:
            raise ValueError("records: a record comes after the run end")
        shifts = sorted(flows.shift_changes, key=lambda x: x[0])
        window = PlantColumns(None, None, t0, end_s, [], [], shifts)
        edges, labels = shift_bins(window, t0, end_s, True)
        folded = len(self._edges)
        if not np.array_equal(edges[:folded], np.array(self._edges)):
            raise ValueError("records: a shift change out of time order (its shift is folded)")
        self._fold(edges[folded:].tolist(), end_s)
        bottlenecks = [self._lines[line].result(end_s) for line, _ in flows.structure]
        cols = flows.plant_columns([s.empty_columns() for s in self._stations])
        per_station = {(s.line, s.station): s.bins for s in self._stations}
        reasons = [r for s in self._stations for r in s.reasons()]
        return report_from_bins(
            cols,
            (cols.start_s, cols.end_s),
            edges,
            labels,
            per_station,
            reasons,
            lazy_shifts=True,
            bottlenecks=bottlenecks,
            folded=flows.folded(end_s),
        )


def _joined(batches: list, cls: type) -> object | None:
    """Return the batches' columns as one (None for no batch)."""
    if not batches:
        return None
    names = cls.__slots__
    return cls(*(np.concatenate([getattr(b, n) for b in batches]) for n in names))


def _per_station(cols: StateRows | PartRows | None, n: int) -> list[np.ndarray]:
    """Return each station's rows of ``cols``, in stream order."""
    if cols is None:
        return [np.empty(0, np.int64)] * n
    order, bounds = station_order(cols.idx, cols.t, n, sort_time=False)
    return [order[bounds[i] : bounds[i + 1]] for i in range(n)]
