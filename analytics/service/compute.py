"""KPI windows -> reports -> ``kpi`` lines, from one span of a run's records in columns.

Each hour window also gives the ``kpi_slice`` lines of its minutes (``slices``) and the
``kpi_stop`` lines of the breakdowns it overlaps (``stops``): hours tile the run, so every
minute is written once per computation of its hour.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from analytics.columns import PlantColumns
from analytics.report import KpiReport, compute_report
from analytics.service.kpi_schema import RunMeta, report_lines
from analytics.service.slices import slice_lines
from analytics.service.stops import stop_lines
from analytics.service.windows import Window


@dataclass(frozen=True, slots=True)
class WindowResult:
    """The report of one window and its lines."""

    window: Window
    report: KpiReport
    lines: list[str]


def sim_span(window: Window, run: RunMeta, cols: PlantColumns) -> tuple[float, float] | None:
    """Return the window as simulation seconds, clipped to the data; None if it is empty."""
    t0 = max((window.start_ms - run.start_epoch_ms) / 1000.0, cols.start_s)
    end = cols.end_s if window.end_ms is None else (window.end_ms - run.start_epoch_ms) / 1000.0
    t1 = min(end, cols.end_s)
    return (t0, t1) if t1 > t0 else None


def compute_windows(
    cols: PlantColumns, windows: Iterable[Window], run: RunMeta
) -> list[WindowResult]:
    """Return the report and the ``kpi``/``kpi_loss`` lines of every non-empty window."""
    out = []
    for w in windows:
        span = sim_span(w, run, cols)
        if span is None:
            continue
        report = compute_report(cols, span, shifts=False)
        lines = report_lines(report, w, run)
        if w.kind == "hour":
            lines += slice_lines(cols, *span, run) + stop_lines(cols, *span, run)
        out.append(WindowResult(w, report, lines))
    return out
