"""The live analytics service and backfill: KPIs from InfluxDB back into InfluxDB.

    InfluxDB ─(InfluxQL /query)─► reader (+ carry-in) ─► KPI engine per window ─► kpi lines ─┐
    InfluxDB ◄─(/write, gateway's v1 sink)──────────────────────────────────────────────────┘
    backfill: plant_sim (past days) ─► telemetry lines + the same KPI windows ─► InfluxDB

``AnalyticsService`` runs the cycles (``twin analytics``); ``backfill`` writes history
(``twin backfill``). Windows (UTC hours and days, shift occurrences) run on the data's own
clock; see ``analytics.service.windows``. The ``kpi`` measurement is described in
``analytics.service.kpi_schema``.
"""

from analytics.service.backfill import BackfillResult, LineEncoder, backfill
from analytics.service.carry import CarryState
from analytics.service.compute import WindowResult, compute_windows
from analytics.service.kpi_schema import KPI_MEASUREMENT, LOSS_MEASUREMENT, RunMeta, report_lines
from analytics.service.reader import RunClock, RunReader
from analytics.service.service import AnalyticsService, CycleResult
from analytics.service.windows import Window, current_windows, windows_between
from analytics.service.writer import BackgroundWriter, LineWriter, make_sink
from twin_io.influx import InfluxConfig, InfluxError, InfluxQL, ensure_dbrp

__all__ = [
    "KPI_MEASUREMENT",
    "LOSS_MEASUREMENT",
    "AnalyticsService",
    "BackfillResult",
    "BackgroundWriter",
    "CarryState",
    "CycleResult",
    "InfluxConfig",
    "InfluxError",
    "InfluxQL",
    "LineEncoder",
    "LineWriter",
    "RunClock",
    "RunMeta",
    "RunReader",
    "Window",
    "WindowResult",
    "backfill",
    "compute_windows",
    "current_windows",
    "ensure_dbrp",
    "make_sink",
    "report_lines",
    "windows_between",
]
