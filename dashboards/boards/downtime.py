"""Downtime and losses: Pareto by reason, MTBF, MTTR, time lost per category."""

from __future__ import annotations

from dashboards.model import KPI_FILTER, dashboard, kpi_series, layout, panel, target, variables

UID = "twin-downtime"
LINES = ' AND "line" =~ /^$line$/'


def _pareto(field: str, title: str, unit: str, scale: str = "") -> dict:
    return panel(
        "barchart",
        title,
        [
            target(
                f'SELECT sum("{field}"){scale} AS "{field}" FROM "kpi_loss" WHERE "level" = '
                f"'line' AND \"window\" = 'day' AND {KPI_FILTER}{LINES} AND $timeFilter "
                'GROUP BY "reason"',
                fmt="table",
            )
        ],
        unit,
        transformations=[{"id": "sortBy", "options": {"sort": [{"field": field, "desc": True}]}}],
        panel_options={"xField": "reason", "orientation": "horizontal"},
    )


def build() -> dict:
    """Return the downtime and losses dashboard."""
    table = panel(
        "table",
        "MTBF and MTTR per station (day windows in range)",
        [
            target(
                'SELECT last("mtbf_h") AS "MTBF h", last("mttr_h") AS "MTTR h", '
                'sum("failures") AS "failures", sum("minor_stops") AS "minor stops", '
                'sum("down_s") AS "down" FROM "kpi" WHERE "level" = \'station\' AND "window" = '
                f"'day' AND {KPI_FILTER}{LINES} AND $timeFilter GROUP BY \"scope\"",
                fmt="table",
            )
        ],
        "short",
        overrides=[
            {
                "matcher": {"id": "byName", "options": "down"},
                "properties": [{"id": "unit", "value": "s"}],
            }
        ],
    )
    lost = panel(
        "timeseries",
        "Time lost per category, all lines (hourly)",
        [
            target(
                f'SELECT sum("{f}") AS "{name}" FROM "kpi" WHERE "level" = \'line\' AND '
                f"\"window\" = 'hour' AND {KPI_FILTER}{LINES} AND $timeFilter "
                "GROUP BY time($__interval) fill(none)"
            )
            for f, name in (
                ("aust_s", "setup"),
                ("down_s", "breakdowns"),
                ("minor_stop_s", "minor stops"),
                ("adot_s", "idle, starved, blocked"),
            )
        ],
        "s",
        custom={"drawStyle": "bars", "fillOpacity": 70, "stacking": {"mode": "normal"}},
    )
    scopes = LINES.replace('"line"', '"scope"')
    rows = [
        [
            (_pareto("stop_time_s", "Downtime by reason (Pareto)", "h", " / 3600"), 12, 10),
            (_pareto("stop_events", "Stops by reason", "short"), 12, 10),
        ],
        [
            (kpi_series("mtbf_h", "line", "day", scopes, "MTBF per line (daily)"), 8, 8),
            (kpi_series("mttr_h", "line", "day", scopes, "MTTR per line (daily)"), 8, 8),
            (table, 8, 8),
        ],
        [(lost, 24, 8)],
    ]
    return dashboard(
        UID,
        "Downtime and losses",
        "Where the time goes: stops by reason, MTBF, MTTR and ISO 22400 losses.",
        layout(rows),
        variables(),
        time_from="now-7d",
    )
