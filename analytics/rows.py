"""Flatten a ``KpiReport`` into long rows: one value per row, for JSON, CSV and InfluxDB.

Columns (``ROW_COLUMNS``): ``section`` (kpi, element, flow, supply, loss, loss_view,
bottleneck), ``level`` (station, line, plant), ``scope``, ``line``, ``window`` ("window",
"shift:NAME" for all occurrences of a shift, "shift:NAME@T0" for one), ``t0_s``, ``t1_s``,
``metric`` (a registry id, an element name or a loss quantity), ``key`` (reason, loss name or
material; empty otherwise), ``value`` (``None`` = undefined), ``unit`` and ``note``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from analytics.registry import KPI_BY_ID

if TYPE_CHECKING:
    from analytics.report import KpiReport, ScopeResult

ROW_COLUMNS = (
    "section",
    "level",
    "scope",
    "line",
    "window",
    "t0_s",
    "t1_s",
    "metric",
    "key",
    "value",
    "unit",
    "note",
)

_KPI_NOTES = {
    "effectiveness": lambda s: (
        "above 100 %: real cycles beat PRI" if s.kpis.effectiveness_over_100 else ""
    ),
    "mtbf_h": lambda s: "no failure in the window" if s.kpis.failures == 0 else "",
}


@cache
def _unit(metric: str) -> str:
    """Return the unit of a metric: the registry's, else from its suffix."""
    spec = KPI_BY_ID.get(metric)
    if spec is not None:
        return spec.unit
    for suffix, unit in (("_s", "s"), ("_kwh", "kWh"), ("_h", "h")):
        if metric.endswith(suffix):
            return unit
    return "count"


@dataclass(frozen=True, slots=True)
class _At:
    """Where a row belongs: scope and window."""

    level: str
    scope: str
    line: str | None
    window: str = "window"
    t0: float | None = None
    t1: float | None = None


class _Rows:
    """Row accumulator with the report's window columns."""

    def __init__(self, report: KpiReport) -> None:
        self.out: list[dict[str, object]] = []
        self.t0, self.t1 = report.t0_s, report.t1_s

    def take(self) -> list[dict[str, object]]:
        """Return the rows added since the last call (and forget them)."""
        out, self.out = self.out, []
        return out

    def add(
        self, section: str, at: _At, metric: str, value: object, key: str = "", note: str = ""
    ) -> None:
        whole = at.window == "window"
        self.out.append(
            {
                "section": section,
                "level": at.level,
                "scope": at.scope,
                "line": at.line or "",
                "window": at.window,
                "t0_s": self.t0 if whole else at.t0,
                "t1_s": self.t1 if whole else at.t1,
                "metric": metric,
                "key": key,
                "value": value,
                "unit": _unit(metric),
                "note": note,
            }
        )

    def scope(
        self,
        s: ScopeResult,
        window: str = "window",
        t0: float | None = None,
        t1: float | None = None,
        elements: bool = True,
    ) -> None:
        at = _At(s.level, s.scope, s.line, window, t0, t1)
        for metric, value in s.kpis.as_dict().items():
            if metric == "effectiveness_over_100":
                continue
            note = _KPI_NOTES[metric](s) if metric in _KPI_NOTES else ""
            self.add("kpi", at, metric, value, note=note)
        if elements:
            for metric, value in s.elements.as_dict().items():
                self.add("element", at, metric, value)


_PLANT = _At("plant", "plant", None)


def report_rows(report: KpiReport) -> list[dict[str, object]]:
    """Return every value of the report as a long row."""
    return list(iter_report_rows(report))


def iter_report_rows(report: KpiReport) -> Iterator[dict[str, object]]:
    """Yield every value of the report as a long row, in ``report_rows`` order, one shift
    occurrence at a time (a long run's rows are never all held: writers stream them)."""
    rows = _Rows(report)
    for s in [report.plant, *report.lines, *report.stations]:
        rows.scope(s)
    for sh in report.shift_totals:
        for s in [sh.plant, *sh.lines, *sh.stations]:
            rows.scope(s, window=f"shift:{sh.shift}", elements=False)
    yield from rows.take()
    for sh in report.shifts:
        for s in [sh.plant, *sh.lines, *sh.stations]:
            rows.scope(
                s, window=f"shift:{sh.shift}@{sh.t0_s:g}", t0=sh.t0_s, t1=sh.t1_s, elements=False
            )
        yield from rows.take()
    for scope, fv in report.flow.items():
        at = _PLANT if scope == "plant" else _At("line", scope, scope)
        for metric, value in fv.as_dict().items():
            rows.add("flow", at, metric, value)
    _supply_rows(rows, report)
    _loss_rows(rows, report)
    _bottleneck_rows(rows, report)
    yield from rows.take()


def _supply_rows(rows: _Rows, report: KpiReport) -> None:
    for metric, value in report.supply.as_dict().items():
        if metric == "stockouts_by_material":
            for mat, (n, h) in value.items():  # type: ignore[union-attr]
                rows.add("supply", _PLANT, "stockouts", n, key=mat)
                rows.add("supply", _PLANT, "stockout_h", h, key=mat)
        else:
            rows.add("supply", _PLANT, metric, value)


def _loss_rows(rows: _Rows, report: KpiReport) -> None:
    for r in report.reason_losses:
        key = f"{r.state}:{r.reason}"
        at = _At("station", r.station, r.line)
        rows.add("loss", at, "stop_events", r.events, key=key)
        rows.add("loss", at, "stop_time_s", r.time_s, key=key)
    for loss in report.losses:
        at = _At(loss.level, loss.scope, None if loss.level == "plant" else loss.scope)
        for v in loss.views:
            rows.add(
                "loss_view", at, "loss_time_s", v.time_s, key=f"{v.view}:{v.loss}", note=v.category
            )
        for name, value in (
            ("nakajima_availability", loss.nakajima.availability),
            ("nakajima_performance", loss.nakajima.performance),
            ("nakajima_quality", loss.nakajima.quality),
        ):
            rows.add("loss_view", at, name, value, note="ratio")


def _bottleneck_rows(rows: _Rows, report: KpiReport) -> None:
    for b in report.bottlenecks:
        for s in b.stations:
            at = _At("station", s.station, b.line)
            for metric in (
                "avg_active_period_s",
                "active_ratio",
                "blocked_ratio",
                "starved_ratio",
                "sole_bottleneck_ratio",
                "shifting_bottleneck_ratio",
            ):
                note = ""
                if s.station == b.momentary_bottleneck and metric == "sole_bottleneck_ratio":
                    note = "momentary bottleneck"
                if s.station == b.average_bottleneck and metric == "avg_active_period_s":
                    note = "average bottleneck"
                rows.add("bottleneck", at, metric, getattr(s, metric), note=note)
