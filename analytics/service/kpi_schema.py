"""The ``kpi`` and ``kpi_loss`` measurements: a ``KpiReport`` of one window as line protocol.

``kpi``: tags ``level`` (station, line, plant), ``line`` (the plant's is ``plant``), ``run_id``,
``scope`` (station, line or ``plant``), ``shift`` (the shift's name for shift windows, ``all``
for hours and days: a bounded tag, so InfluxQL can group by it), ``site`` and ``window``
(hour, shift, day); fields are
the KPI engine's values by registry id (``analytics.registry``) plus a few elements
(``pq``, ``gq``, ``pbt_s``, ...), ``planned_output`` (units the planned busy time would give
at the planned cycle time), flow KPIs (lines, plant), supply KPIs (plant), active-period
figures (stations), the line's bottleneck names and ``t0_s``/``t1_s`` (simulation seconds
covered). The elements every ratio needs are fields too, so a ratio over several windows is a
ratio of sums; KPIs of any range come from the minute elements of ``kpi_slice``
(``analytics.service.slices``).

``kpi_loss``: the same tags plus ``reason`` (``down:jam``, ``minor_stop:unspecified``); fields
``stop_events`` and ``stop_time_s``, per station, line and plant.

Every point's timestamp is the window's nominal start, so one window of one scope is one
point and recomputing it overwrites it. Numbers are always floats (one type per field); an
undefined value (denominator 0) is left out: within a growing window a value, once defined,
stays defined, so no stale value survives an overwrite.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from analytics.report import PLANT, KpiReport, ScopeResult
from analytics.service.windows import Window
from plant_sim.naming import as_name
from plant_sim.telemetry_schema import encode_fields, encode_series

KPI_MEASUREMENT = "kpi"
LOSS_MEASUREMENT = "kpi_loss"
TAGS = ("level", "line", "run_id", "scope", "shift", "site", "window")
LOSS_TAGS = ("level", "line", "reason", "run_id", "scope", "shift", "site", "window")
#: ``shift`` tag value of hour and day windows.
ALL_SHIFTS = "all"

#: The elements (``analytics.elements``) the service stores, in ``Elements`` order (``pbt_s``
#: derived): every one per minute in ``kpi_slice``; per window in ``kpi`` all but
#: ``SLICE_ONLY_FIELDS``, whose KPIs (MTBF, energy per unit, ...) ``kpi`` stores instead.
STORED_ELEMENT_FIELDS = (
    "window_s",
    "pbt_s",
    "apt_s",
    "aust_s",
    "adet_s",
    "adot_s",
    "pdot_s",
    "outside_s",
    "down_s",
    "minor_stop_s",
    "starved_s",
    "blocked_s",
    "idle_s",
    "material_starved_s",
    "failures",
    "minor_stops",
    "pq",
    "gq",
    "sq",
    "rq",
    "gp",
    "ip",
    "pri_pq_s",
    "energy_kwh",
    "idle_energy_kwh",
)
SLICE_ONLY_FIELDS = frozenset(
    {"material_starved_s", "failures", "minor_stops", "energy_kwh", "idle_energy_kwh"}
)
#: Element fields of a ``kpi`` point.
ELEMENT_FIELDS = tuple(n for n in STORED_ELEMENT_FIELDS if n not in SLICE_ONLY_FIELDS)
BOTTLENECK_FIELDS = (
    "avg_active_period_s",
    "active_ratio",
    "sole_bottleneck_ratio",
    "shifting_bottleneck_ratio",
)
FLOW_FIELDS = (
    "wip_avg",
    "exit_rate_uph",
    "flow_time_avg_s",
    "flow_time_p50_s",
    "flow_time_p95_s",
    "line_lead_time_avg_s",
    "little_wip",
    "little_gap_ratio",
    "released",
    "finished",
    "scrapped",
)
SUPPLY_FIELDS = (
    "otd",
    "order_lead_time_avg_s",
    "order_lead_time_p50_s",
    "order_lead_time_p95_s",
    "backlog_orders",
    "backlog_units",
    "late_backlog_orders",
    "fill_rate",
    "stockouts",
    "stockout_h",
    "delivered_orders",
)


@dataclass(frozen=True, slots=True)
class RunMeta:
    """What the KPI points of a run carry besides the report: identity and clock."""

    run_id: str
    start_epoch_ms: int
    site: str


def _field_set(values: Mapping[str, object]) -> str:
    """KPI fields through the shared encoder; every number is stored as a float."""
    as_stored = {
        k: v if v is None or isinstance(v, str) else float(v)  # type: ignore[arg-type]
        for k, v in values.items()
    }
    return encode_fields(as_stored)


def _series(measurement: str, tags: Mapping[str, str]) -> str:
    return encode_series(measurement, tags)


#: Public names of the encoders, for the other measurements of the service (``slices``).
field_set = _field_set
series_key = _series


def planned_output(s: ScopeResult) -> float | None:
    """Return the units planned busy time gives at the planned cycle time: PBT × PQ / Σ(PRI·PQ)."""
    e = s.elements
    if e.pri_pq_s <= 0:
        return None
    return e.pbt_s * e.pq / e.pri_pq_s


def scope_fields(report: KpiReport, s: ScopeResult, window: Window) -> dict[str, object]:
    """Return every field of one scope's ``kpi`` point."""
    values: dict[str, object] = {
        k: v for k, v in s.kpis.as_dict().items() if k != "effectiveness_over_100"
    }
    elements = s.elements.as_dict()
    values.update({k: elements[k] for k in ELEMENT_FIELDS})
    values["planned_output"] = planned_output(s)
    values["t0_s"], values["t1_s"] = report.t0_s, report.t1_s
    if s.level in ("line", "plant"):
        flow = report.flow[s.scope].as_dict()
        values.update({k: flow[k] for k in FLOW_FIELDS})
    if s.level == "plant":
        supply = report.supply.as_dict()
        values.update({k: supply[k] for k in SUPPLY_FIELDS})
    if s.level == "line":
        for b in report.bottlenecks:
            if b.line == s.scope:
                values["bottleneck_avg"] = b.average_bottleneck
                values["bottleneck_momentary"] = b.momentary_bottleneck
    if s.level == "station":
        for b in report.bottlenecks:
            for sb in b.stations:
                if b.line == s.line and sb.station == s.scope:
                    values.update({k: getattr(sb, k) for k in BOTTLENECK_FIELDS})
    return values


def _tags(s_level: str, scope: str, line: str | None, run: RunMeta, window: Window) -> dict:
    return {
        "level": s_level,
        "line": line or PLANT,
        "run_id": run.run_id,
        "scope": scope,
        "shift": window.shift or ALL_SHIFTS,
        "site": run.site,
        "window": window.kind,
    }


def report_lines(report: KpiReport, window: Window, run: RunMeta) -> list[str]:
    """Return the ``kpi`` and ``kpi_loss`` lines of one window's report."""
    ts = window.start_ms * 1_000_000
    out = []
    for s in [report.plant, *report.lines, *report.stations]:
        fields = _field_set(scope_fields(report, s, window))
        series = _series(KPI_MEASUREMENT, _tags(s.level, s.scope, s.line, run, window))
        out.append(f"{series} {fields} {ts}")
    out += _loss_lines(report, window, run, ts)
    return out


def _loss_lines(report: KpiReport, window: Window, run: RunMeta, ts: int) -> list[str]:
    totals: dict[tuple[str, str, str | None, str], list[float]] = {}
    for r in report.reason_losses:
        reason = as_name(f"{r.state}:{r.reason}")  # a stored reason is free text
        for key in (
            ("station", r.station, r.line, reason),
            ("line", r.line, r.line, reason),
            ("plant", PLANT, None, reason),
        ):
            slot = totals.setdefault(key, [0.0, 0.0])
            slot[0] += r.events
            slot[1] += r.time_s
    out = []
    for (level, scope, line, reason), (events, time_s) in totals.items():
        tags = _tags(level, scope, line, run, window)
        tags["reason"] = reason
        fields = _field_set({"stop_events": events, "stop_time_s": time_s})
        out.append(f"{_series(LOSS_MEASUREMENT, tags)} {fields} {ts}")
    return out
