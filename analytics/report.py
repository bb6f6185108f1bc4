"""One entry point: a record stream in, every KPI of the run (or a window) out.

``compute_report(records, window)`` builds per-station, per-line and plant elements and KPIs
over the window and over each shift inside it (shift windows come from ``ShiftChange``
records), plus flow, supply, loss and bottleneck results. ``KpiReport.to_rows()`` flattens it
into long rows (one value per row) for JSON, CSV and the InfluxDB ``kpi`` measurement. Pure:
no I/O.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import overload

import numpy as np

from analytics.bottleneck import BottleneckResult, detect_bottlenecks
from analytics.columns import PlantColumns, to_columns
from analytics.elements import (
    BinColumns,
    Elements,
    bins_each,
    bins_total,
    rollup_line_bins,
    rollup_plant_bins,
    station_bins,
)
from analytics.flow import FlowValues, compute_flows, first_pass_counts, order_release_times
from analytics.kpis import KpiValues, compute_kpis, mtbf_note
from analytics.losses import (
    LossRow,
    NakajimaFactors,
    ParetoRow,
    ReasonLoss,
    StopSplit,
    downtime_by_reason,
    loss_views,
    nakajima_factors,
    pareto,
    stop_split,
)
from analytics.supply import SupplyValues, compute_supply, stockouts_by_material
from analytics.timeline import sorted_unique
from plant_sim.gc_pause import no_gc
from plant_sim.records import Record

PLANT = "plant"


@dataclass(frozen=True, slots=True)
class ScopeResult:
    """Elements and KPIs of one scope (station, line or plant) over one window."""

    level: str  # "station" | "line" | "plant"
    scope: str
    line: str | None
    elements: Elements
    kpis: KpiValues
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ShiftResult:
    """Station, line and plant results of one shift occurrence, or of all its occurrences."""

    shift: str
    t0_s: float | None  # None for totals over every occurrence
    t1_s: float | None
    lines: list[ScopeResult]
    plant: ScopeResult
    stations: list[ScopeResult] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class LossResult:
    """Loss analysis of one line or the plant over the window."""

    level: str
    scope: str
    pareto: list[ParetoRow]
    stops: StopSplit
    views: list[LossRow]
    nakajima: NakajimaFactors


@dataclass(frozen=True, slots=True)
class FoldedFlows:
    """The flow and stock results a streamed run folds as it goes (``analytics.stream_report``)
    instead of keeping its release, exit and stock columns."""

    first_pass: dict[str, tuple[np.ndarray, np.ndarray]]  # line -> (GP, IP) per bin
    flow: dict[str, FlowValues]  # line id or "plant"
    stockouts: dict[str, tuple[int, float]]  # material -> (stock-outs, hours out)


@dataclass(frozen=True)
class KpiReport:
    """Every KPI of one run over one window; see ``compute_report``."""

    run_id: str | None
    scenario: str | None
    t0_s: float
    t1_s: float
    stations: list[ScopeResult]
    lines: list[ScopeResult]
    plant: ScopeResult
    flow: dict[str, FlowValues]  # line id or "plant"
    supply: SupplyValues
    losses: list[LossResult]
    reason_losses: list[ReasonLoss]
    bottlenecks: list[BottleneckResult]
    shifts: list[ShiftResult] = field(default_factory=list)
    shift_totals: list[ShiftResult] = field(default_factory=list)

    def scope(self, name: str) -> ScopeResult:
        """Return the result of the plant, a line or a station by id."""
        for r in [self.plant, *self.lines, *self.stations]:
            if r.scope == name:
                return r
        raise KeyError(f"no scope {name!r} in the report")

    def to_rows(self) -> list[dict[str, object]]:
        """Return the report as long rows (columns: ``analytics.rows.ROW_COLUMNS``)."""
        from analytics.rows import report_rows

        return report_rows(self)


def _notes(e: Elements, k: KpiValues) -> tuple[str, ...]:
    """Return the human notes that go with a scope's KPIs."""
    notes = []
    if e.pbt_s == 0:
        notes.append("no planned busy time in the window: time-based KPIs undefined")
    if k.effectiveness_over_100:
        notes.append("effectiveness above 100 %: real cycles beat the planned run time (PRI)")
    if (m := mtbf_note(e)) and e.pbt_s > 0:
        notes.append(m)
    return tuple(notes)


def _scope(level: str, scope: str, line: str | None, e: Elements) -> ScopeResult:
    """Return a scope result with KPIs and notes."""
    k = compute_kpis(e)
    return ScopeResult(level, scope, line, e, k, _notes(e, k))


def shift_bins(cols: PlantColumns, t0: float, t1: float, shifts: bool):
    """Return bin edges and the shift name of each bin (``None`` outside any shift)."""
    changes = cols.shifts if shifts else []
    inner = [t for t, _ in changes if t0 < t < t1]
    edges = sorted_unique(np.array([t0, *inner, t1], float))
    if len(edges) == 1:
        edges = np.array([t0, t1], float)
    times = [t for t, _ in changes]
    labels: list[str | None] = []
    for start in edges[:-1].tolist():
        k = bisect_right(times, start) - 1
        labels.append(changes[k][1] if k >= 0 else None)
    return edges, labels


@no_gc()  # pure computation over millions of live records: no collector passes meanwhile
def compute_report(
    records: Iterable[Record] | PlantColumns,
    window: tuple[float, float] | None = None,
    *,
    shifts: bool = True,
) -> KpiReport:
    """Return every KPI of a run's records over ``window`` (default: the whole run).

    ``window`` is ``(t0, t1)`` in simulation seconds, half-open; a window ending at or after the
    run end also counts events at the end. With ``shifts``, results per shift occurrence and per
    shift name are added. Raises ``ValueError`` for a window that ends before it starts.
    """
    cols = records if isinstance(records, PlantColumns) else to_columns(records)
    t0, t1 = (cols.start_s, cols.end_s) if window is None else (float(window[0]), float(window[1]))
    if t1 < t0:
        raise ValueError(f"window: end {t1} is before start {t0}")
    inc = t1 >= cols.end_s
    edges, labels = shift_bins(cols, t0, t1, shifts)
    per_station = {
        (st.line, st.station): station_bins(st, cols.end_s, edges, inc) for st in cols.stations
    }
    reasons = downtime_by_reason(cols.stations, cols.end_s, t0, t1, inc)
    folded = FoldedFlows(
        {ln.line: first_pass_counts(ln, edges, inc) for ln in cols.lines},
        _flows(cols, t0, t1, inc),
        stockouts_by_material(cols.stock, t0, t1, inc),
    )
    bottlenecks = [
        detect_bottlenecks(ln.line, cols.line_stations(ln.line), cols.end_s, t0, t1)
        for ln in cols.lines
    ]
    return report_from_bins(
        cols, (t0, t1), edges, labels, per_station, reasons, bottlenecks=bottlenecks, folded=folded
    )


def report_from_bins(  # noqa: PLR0913 (the parts of a report, each computed elsewhere)
    cols: PlantColumns,
    window: tuple[float, float],
    edges: np.ndarray,
    labels: list[str | None],
    per_station: dict[tuple[str, str], BinColumns],
    reasons: list[ReasonLoss],
    *,
    bottlenecks: list[BottleneckResult],
    folded: FoldedFlows,
    lazy_shifts: bool = False,
) -> KpiReport:
    """Return the report of ``cols`` over ``window`` from each station's elements per bin
    (``edges``, shift ``labels``) and the downtime by reason, however these were computed:
    by ``compute_report`` from whole columns, or by ``analytics.stream_report`` while a run
    streams, as are the ``bottlenecks`` (per line) and the ``folded`` first-pass counts, flow
    KPIs and stock-outs (the lines' release and exit columns and the stock records of
    ``cols`` are not read). With ``lazy_shifts``, each shift occurrence's result is built
    when asked for."""
    t0, t1 = window
    inc = t1 >= cols.end_s
    line_bins: dict[str, BinColumns] = {}
    for ln in cols.lines:
        gp, ip = folded.first_pass[ln.line]
        sts = [per_station[(ln.line, s)] for s in ln.stations]
        if sts:
            line_bins[ln.line] = rollup_line_bins(sts, gp, ip)
    stations = [
        _scope("station", st, ln, bins_total(bins)) for (ln, st), bins in per_station.items()
    ]
    lines = [_scope("line", ln, ln, bins_total(bins)) for ln, bins in line_bins.items()]
    plant_bins = rollup_plant_bins(list(line_bins.values())) if line_bins else None
    plant = _scope(
        "plant", PLANT, None, bins_total(plant_bins) if plant_bins else Elements(window_s=t1 - t0)
    )
    occ, totals = _shift_results(edges, labels, per_station, line_bins, plant_bins, lazy_shifts)
    return KpiReport(
        run_id=cols.run_id,
        scenario=cols.scenario,
        t0_s=t0,
        t1_s=t1,
        stations=stations,
        lines=lines,
        plant=plant,
        flow=folded.flow,
        supply=compute_supply(cols.orders, folded.stockouts, t0, t1, inc),
        losses=_losses(lines, plant, reasons),
        reason_losses=reasons,
        bottlenecks=bottlenecks,
        shifts=occ,  # type: ignore[arg-type]
        shift_totals=totals,
    )


def _flows(cols: PlantColumns, t0: float, t1: float, inc: bool) -> dict[str, FlowValues]:
    """Return flow KPIs per line and for the plant."""
    out, plant = compute_flows(cols.lines, t0, t1, inc, order_release_times(cols.orders))
    out[PLANT] = plant
    return out


def _losses(
    lines: list[ScopeResult], plant: ScopeResult, reasons: list[ReasonLoss]
) -> list[LossResult]:
    """Return loss analyses per line and for the plant."""
    out = []
    for r in [*lines, plant]:
        mine = reasons if r.level == "plant" else [x for x in reasons if x.line == r.scope]
        out.append(
            LossResult(
                r.level,
                r.scope,
                pareto(mine),
                stop_split(r.elements),
                loss_views(r.elements),
                nakajima_factors(r.elements),
            )
        )
    return out


def _shift_results(
    edges: np.ndarray,
    labels: list[str | None],
    station_bins: dict[tuple[str, str], BinColumns],
    line_bins: dict[str, BinColumns],
    plant_bins: BinColumns | None,
    lazy: bool = False,
) -> tuple[Sequence[ShiftResult], list[ShiftResult]]:
    """Return results per shift occurrence and per shift name (sums of occurrences)."""
    if plant_bins is None:
        return [], []
    spans: list[tuple[str, float, float, int]] = []
    by_name: dict[str, list[int]] = {}
    total = _BinTotals()
    for k, name in enumerate(labels):
        if name is None:
            continue
        by_name.setdefault(name, []).append(k)
        spans.append((name, float(edges[k]), float(edges[k + 1]), k))
    occ: Sequence[ShiftResult] = _Occurrences(spans, station_bins, line_bins, plant_bins)
    if not lazy:
        occ = [
            _shift(name, (a, b), station_bins, line_bins, plant_bins, [k], total)
            for name, a, b, k in spans
        ]
    totals = [
        _shift(n, (None, None), station_bins, line_bins, plant_bins, ks, total)
        for n, ks in by_name.items()
    ]
    return occ, totals


class _Occurrences(Sequence[ShiftResult]):
    """Results per shift occurrence, each built from its bin when asked for: a long run has
    hundreds of occurrences, and their results are never all held."""

    def __init__(
        self,
        spans: list[tuple[str, float, float, int]],
        station_bins: dict[tuple[str, str], BinColumns],
        line_bins: dict[str, BinColumns],
        plant_bins: BinColumns,
    ) -> None:
        self._spans, self._bins = spans, (station_bins, line_bins, plant_bins)

    def __len__(self) -> int:
        return len(self._spans)

    @overload
    def __getitem__(self, i: int) -> ShiftResult: ...
    @overload
    def __getitem__(self, i: slice) -> list[ShiftResult]: ...
    def __getitem__(self, i: int | slice) -> ShiftResult | list[ShiftResult]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        name, t0, t1, k = self._spans[i]
        # ``bins_total`` of one bin gives what ``_BinTotals`` takes from ``bins_each``
        return _shift(name, (t0, t1), *self._bins, [k], bins_total)


class _BinTotals:
    """``bins_total``, with the elements of single bins taken from a table made once per
    scope (``bins_each``): a run of many shifts asks for every bin of every scope."""

    def __init__(self) -> None:
        self._each: dict[int, list[Elements]] = {}

    def __call__(self, cols: BinColumns, ks: list[int]) -> Elements:
        if len(ks) != 1:
            return bins_total(cols, ks)
        each = self._each.get(id(cols))
        if each is None:
            each = self._each[id(cols)] = bins_each(cols)
        return each[ks[0]]


def _shift(
    name: str,
    span: tuple[float | None, float | None],
    station_bins: dict[tuple[str, str], BinColumns],
    line_bins: dict[str, BinColumns],
    plant_bins: BinColumns,
    ks: list[int],
    total: Callable[[BinColumns, list[int]], Elements],
) -> ShiftResult:
    """Return one shift result from the sum of bins ``ks``."""
    stations = [_scope("station", st, ln, total(b, ks)) for (ln, st), b in station_bins.items()]
    lines = [_scope("line", ln, ln, total(b, ks)) for ln, b in line_bins.items()]
    plant = _scope("plant", PLANT, None, total(plant_bins, ks))
    return ShiftResult(name, span[0], span[1], lines, plant, stations)


__all__ = ["PLANT", "KpiReport", "LossResult", "ScopeResult", "ShiftResult", "compute_report"]
