"""Helpers of the service tests: stored KPI points, reference reports, comparisons."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from analytics.columns import PlantColumns, to_columns
from analytics.registry import KPIS
from analytics.report import compute_report
from analytics.service.kpi_schema import KPI_MEASUREMENT
from plant_sim.records import Record
from tests.servers.influxdb import InfluxServer

#: The KPIs compared to the event log: every ratio KPI of the registry the engine computes per
#: scope (availability, effectiveness, quality, OEE and the rest).
SCOPE_RATIOS = tuple(
    k.id
    for k in KPIS
    if k.is_ratio
    and k.id
    in {
        "availability",
        "effectiveness",
        "quality_ratio",
        "oee",
        "nee",
        "technical_eff",
        "setup_rate",
        "allocation_eff",
        "utilization_eff",
        "scrap_ratio",
        "rework_ratio",
        "fpy",
        "blocked_ratio",
        "starved_ratio",
    }
)
COUNTS = ("pq", "gq", "sq", "rq", "failures", "minor_stops")

Key = tuple[str, str, str, str, int]  # run_id, level, scope, window, start_ms


def stored_kpis(influx: InfluxServer, db: str) -> dict[Key, dict[str, Any]]:
    """Return every ``kpi`` point: (run_id, level, scope, window, start_ms) -> fields."""
    res = influx.query(f'SELECT * FROM "{KPI_MEASUREMENT}"', db)
    out: dict[Key, dict[str, Any]] = {}
    for series in res["results"][0].get("series", []) or []:
        cols = series["columns"]
        for values in series["values"]:
            row = dict(zip(cols, values, strict=True))
            key = (
                row["run_id"],
                row["level"],
                row["scope"],
                row["window"],
                int(row["time"]) // 1_000_000,
            )
            assert key not in out, f"duplicate KPI point {key}"
            out[key] = row
    return out


def compare(
    stored: dict[Key, dict[str, Any]],
    truth: Sequence[Record] | PlantColumns,
    levels: Iterable[str] = ("station", "line"),
    tol: float = 0.001,
) -> int:
    """Assert every stored point of ``levels`` equals the event log's KPIs over its window.

    Ratios must agree to ``tol`` (0.001 = 0.1 percentage point), counts exactly. Returns the
    number of values compared.
    """
    cols = truth if isinstance(truth, PlantColumns) else to_columns(truth)
    reports: dict[tuple[float, float], Any] = {}
    n = 0
    bad = []
    for key, row in stored.items():
        if key[1] not in levels:
            continue
        span = (float(row["t0_s"]), float(row["t1_s"]))
        if span not in reports:
            reports[span] = compute_report(cols, span, shifts=False)
        ref = reports[span].scope(key[2])
        values = {**ref.kpis.as_dict(), **ref.elements.as_dict()}
        for metric in SCOPE_RATIOS:
            want, got = values[metric], row.get(metric)
            n += 1
            if (want is None) != (got is None) or (want is not None and abs(want - got) > tol):
                bad.append((key, metric, want, got))
        for metric in COUNTS:
            n += 1
            if float(values[metric]) != float(row[metric]):
                bad.append((key, metric, values[metric], row[metric]))
    assert not bad, f"{len(bad)} of {n} values differ, e.g. {bad[:5]}"
    return n
