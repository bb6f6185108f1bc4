"""ISO 22400 KPIs, loss analysis, bottlenecks and flow and supply KPIs over plain record streams.

Entry point: ``compute_report(records, window=None) -> KpiReport``. The record stream is what
``plant_sim`` emits (``plant_sim.records``) or what an InfluxDB read-back rebuilds. The KPI
modules are pure; ``analytics.eventlog`` reads and writes files and ``analytics.cli`` prints.

    records ─► columns (one pass) ─► timeline ─► elements ─► kpis ─┐
                                   ├─► flow, supply, losses,       ├─► report ─► rows / tables
                                   └─► bottleneck (active periods) ┘
"""

from analytics.elements import Elements, rollup_line, rollup_plant, station_elements, total
from analytics.kpis import KpiValues, compute_kpis
from analytics.registry import KPI_BY_ID, KPIS, KpiSpec
from analytics.report import KpiReport, ScopeResult, ShiftResult, compute_report

__all__ = [
    "KPIS",
    "KPI_BY_ID",
    "Elements",
    "KpiReport",
    "KpiSpec",
    "KpiValues",
    "ScopeResult",
    "ShiftResult",
    "compute_kpis",
    "compute_report",
    "rollup_line",
    "rollup_plant",
    "station_elements",
    "total",
]
