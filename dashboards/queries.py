"""The panels' InfluxQL, as functions other code imports (dashboards, ``twin top``, tests).

Range KPIs are ratios of sums of the minute elements in ``kpi_slice``
(``analytics.service.slices``): ``range_query(["oee", "availability"], "plant")`` gives the OEE
and availability of whatever ``$timeFilter`` selects, or of each ``$__interval`` bucket with
``by_time=True``. ``RANGE_KPIS`` maps each KPI id to its expression; the same formulas as
``analytics.kpis`` (e.g. OEE in its reduced form Σ(PRI·PQ) × GQ / PQ / PBT), so a range's
value equals the KPI engine's over that range. InfluxQL returns 0 for a division by zero, where
the engine says "undefined" (``None``): an MTBF of 0 means no failure in the range.

Filters use Grafana's template variables (``$site``, ``$run``, ``$line``, ``$station``); to run a
query elsewhere, replace them with ``dashboards.checks.expand``, or call ``range_values``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from analytics.service.kpi_schema import KPI_MEASUREMENT, LOSS_MEASUREMENT
from analytics.service.slices import SLICE_MEASUREMENT

RUN_FILTER = '"run_id" =~ /^$run$/'
SITE_RUN_FILTER = '"site" =~ /^$site$/ AND "run_id" =~ /^$run$/'
LINE_SCOPES = ' AND "scope" =~ /^$line$/'
STATION_SCOPES = ' AND "line" =~ /^$line$/ AND "scope" =~ /^$station$/'
LINES = ' AND "line" =~ /^$line$/'
STATIONS = ' AND "station" =~ /^$station$/'

_APT, _PBT, _PQ, _GQ = 'sum("apt_s")', 'sum("pbt_s")', 'sum("pq")', 'sum("gq")'
_PRI, _FE = 'sum("pri_pq_s")', 'sum("failures")'
_AUPT = '(sum("apt_s") + sum("aust_s"))'
#: KPI id -> InfluxQL expression over ``kpi_slice`` sums (definitions: ``analytics.kpis``).
RANGE_KPIS: dict[str, str] = {
    "oee": f"{_PRI} * {_GQ} / {_PQ} / {_PBT}",
    "availability": f"{_APT} / {_PBT}",
    "effectiveness": f"{_PRI} / {_APT}",
    "quality_ratio": f"{_GQ} / {_PQ}",
    "nee": f"{_AUPT} / {_PBT} * {_PRI} / {_APT} * {_GQ} / {_PQ}",
    "technical_eff": f'{_APT} / ({_APT} + sum("adet_s"))',
    "setup_rate": f'sum("aust_s") / {_AUPT}',
    "scrap_ratio": f'sum("sq") / {_PQ}',
    "fpy": 'sum("gp") / sum("ip")',
    "throughput_uph": f'{_PQ} * 3600 / sum("window_s")',
    "mtbf_h": f"{_AUPT} / {_FE} / 3600",
    "mttr_h": f'sum("down_s") / {_FE} / 3600',
    "epgu_kwh": f'sum("energy_kwh") / {_GQ}',
    "epu_kwh": f'sum("energy_kwh") / {_PQ}',
    "blocked_ratio": f'sum("blocked_s") / {_PBT}',
    "starved_ratio": f'sum("starved_s") / {_PBT}',
    "otd": 'sum("on_time_orders") / sum("delivered_orders")',
    # lines and the plant: mean exit − order release of the finished parts that left
    "line_lead_time_avg_s": 'sum("line_lead_time_sum_s") / sum("finished")',
    # units the planned busy time gives at the planned cycle time: PBT x PQ / sum(PRI x PQ)
    "planned_output": f"{_PBT} * {_PQ} / {_PRI}",
}
#: Counts and totals over a range (sums, exact).
RANGE_TOTALS: dict[str, str] = {
    "failures": _FE,
    "minor_stops": 'sum("minor_stops")',
    "pq": _PQ,
    "gq": _GQ,
    "sq": 'sum("sq")',
    "energy_kwh": 'sum("energy_kwh")',
    "idle_energy_kwh": 'sum("idle_energy_kwh")',
    "delivered_orders": 'sum("delivered_orders")',
    "down_s": 'sum("down_s")',
    "minor_stop_s": 'sum("minor_stop_s")',
    "aust_s": 'sum("aust_s")',
    "adot_s": 'sum("adot_s")',
    "on_time_orders": 'sum("on_time_orders")',
}
#: The headline row "over the selected range".
HEADLINE = (
    "oee",
    "availability",
    "effectiveness",
    "quality_ratio",
    "nee",
    "throughput_uph",
    "mtbf_h",
    "mttr_h",
    "epgu_kwh",
    "otd",
)
LEVEL_SCOPES = {"plant": "", "line": LINE_SCOPES, "station": STATION_SCOPES}


def _expr(name: str) -> str:
    return RANGE_KPIS.get(name) or RANGE_TOTALS[name]


def range_query(
    names: list[str] | tuple[str, ...],
    level: str,
    group_by: str = "",
    by_time: bool = False,
    scopes: str | None = None,
    timezone: str | None = None,
) -> str:
    """Return one query of KPIs (``RANGE_KPIS``/``RANGE_TOTALS`` ids) of ``level`` over the range.

    ``group_by`` adds tags (``'"scope"'``, ``'"shift"'``) or a fixed ``time(1d)``; ``by_time``
    gives one value per ``$__interval`` bucket instead of one for the whole range. With
    ``timezone`` (an IANA zone) time buckets follow its calendar (InfluxQL ``tz()``): a day
    bucket is a local day, 23 or 25 hours long on a daylight-saving change.
    """
    cols = ", ".join(f'{_expr(n)} AS "{n}"' for n in names)
    scope_filter = LEVEL_SCOPES[level] if scopes is None else scopes
    q = (
        f'SELECT {cols} FROM "{SLICE_MEASUREMENT}" WHERE "level" = \'{level}\' AND '
        f"{SITE_RUN_FILTER}{scope_filter} AND $timeFilter"
    )
    groups = (["time($__interval)"] if by_time else []) + ([group_by] if group_by else [])
    if groups:
        q += " GROUP BY " + ", ".join(groups)
    if by_time or "time(" in group_by:
        q += " fill(none)"
        if timezone:
            q += f" tz('{timezone}')"
    return q


def state_query(filter_: str = STATIONS) -> str:
    """Return every state change (the points themselves, no bucket) per station."""
    return (
        f'SELECT "state_num" FROM "machine_state" WHERE {RUN_FILTER}{filter_} AND $timeFilter '
        'GROUP BY "station"'
    )


def shift_occurrences_query(names: tuple[str, ...], level: str = "plant") -> str:
    """Return each shift occurrence's stored KPIs (one point per occurrence, no averaging)."""
    cols = ", ".join(f'"{n}"' for n in names)
    return (
        f'SELECT {cols} FROM "{KPI_MEASUREMENT}" WHERE "window" = \'shift\' AND "level" = '
        f"'{level}' AND {SITE_RUN_FILTER}{LEVEL_SCOPES[level]} AND $timeFilter GROUP BY \"shift\""
    )


def pareto_query(level: str = "line") -> str:
    """Return stop time and stops by reason over the range (sums of hour windows' losses)."""
    return (
        'SELECT sum("stop_time_s") / 3600 AS "hours", sum("stop_events") AS "stops" '
        f'FROM "{LOSS_MEASUREMENT}" WHERE "level" = \'{level}\' AND "window" = \'hour\' AND '
        f'{SITE_RUN_FILTER}{LINES} AND $timeFilter GROUP BY "reason"'
    )


def backlog_query() -> str:
    """Return the plant's order backlog (orders, units, late) at each hour's end."""
    return (
        'SELECT last("backlog_orders") AS "orders", last("backlog_units") AS "units", '
        'last("late_backlog_orders") AS "late" FROM "kpi" WHERE "level" = \'plant\' AND '
        f"\"window\" = 'hour' AND {SITE_RUN_FILTER} AND $timeFilter "
        "GROUP BY time($__interval) fill(none)"
    )


def lead_time_query() -> str:
    """Return order lead time p50/p95 of each hour's deliveries (hourly values, not averaged)."""
    return (
        'SELECT max("order_lead_time_p50_s") AS "p50", max("order_lead_time_p95_s") AS "p95" '
        'FROM "kpi" WHERE "level" = \'plant\' AND "window" = \'hour\' AND '
        f"{SITE_RUN_FILTER} AND $timeFilter GROUP BY time($__interval) fill(none)"
    )


def stock_query() -> str:
    """Return raw-material stock and its reorder point per material as recorded (every
    change: each ``stock`` record carries both)."""
    return (
        'SELECT "level" AS "stock", "reorder_point" AS "reorder point" FROM "stock" WHERE '
        f'{RUN_FILTER} AND $timeFilter GROUP BY "material"'
    )


def stockout_query() -> str:
    """Return the stock records taken while a material is out: level 0, or a draw waits
    (``shortage``), the states ``analytics.supply`` counts stock-outs and hours out from."""
    return (
        'SELECT "level" AS "out" FROM "stock" WHERE ("cause" = \'shortage\' OR "level" <= 0) '
        f'AND {RUN_FILTER} AND $timeFilter GROUP BY "material"'
    )


# Annotations: the stored records themselves, one annotation per record.
SHIFT_CHANGES = f'SELECT "shift" FROM "shift" WHERE {RUN_FILTER} AND $timeFilter'
BREAKDOWNS = (
    'SELECT "text", "station", "reason", "duration_s" FROM "kpi_stop" WHERE '
    f"{RUN_FILTER} AND $timeFilter"
)
PLANNED_MAINTENANCE = (
    'SELECT "station", "reason" FROM "machine_state" WHERE "state" = \'planned_downtime\' AND '
    f"{RUN_FILTER} AND $timeFilter"
)
SCENARIO_EVENTS = (
    'SELECT "name", "target", "event", "phase" FROM "scenario_event" WHERE '
    f"{RUN_FILTER} AND $timeFilter"
)


def range_values(
    run_query: Callable[[str], list[dict]],
    names: list[str] | tuple[str, ...],
    level: str,
    from_ms: int,
    to_ms: int,
    variables: Mapping[str, str] | None = None,
) -> dict[str, dict[str, float | None]]:
    """Return ``{scope: {kpi: value}}`` over ``[from_ms, to_ms]`` (e.g. for ``twin top``).

    ``run_query`` sends InfluxQL and returns the ``/query`` series; ``variables`` are regex
    values of ``site``, ``run``, ``line``, ``station`` (default: all).
    """
    from dashboards.checks import expand

    values = dict.fromkeys(("site", "run", "line", "station"), ".*") | dict(variables or {})
    q = expand(range_query(names, level, group_by='"scope"'), from_ms, to_ms, "1m", values)
    out = {}
    for s in run_query(q):
        row = s["values"][0]
        out[(s.get("tags") or {}).get("scope", level)] = dict(
            zip(s["columns"][1:], row[1:], strict=True)
        )
    return out
