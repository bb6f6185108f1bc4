"""Downtime and losses: Pareto by reason with cumulative share, MTBF, MTTR, time lost."""

from __future__ import annotations

from dashboards import queries
from dashboards.model import (
    dashboard,
    layout,
    panel,
    range_series,
    range_table,
    target,
    variables,
)

UID = "twin-downtime"
LOSSES = ("down_s", "minor_stop_s", "aust_s", "adot_s")


def _pareto() -> dict:
    """Stop hours by reason, largest first, with the cumulative share of all stop time."""
    total = (
        queries.pareto_query()
        .replace(' GROUP BY "reason"', "")
        .replace(
            'sum("stop_time_s") / 3600 AS "hours", sum("stop_events") AS "stops"',
            'sum("stop_time_s") / 3600 AS "total"',
        )
    )
    return panel(
        "barchart",
        "Downtime by reason (Pareto, selected range)",
        [target(queries.pareto_query(), fmt="table"), target(total, fmt="table")],
        "h",
        "Stop hours per reason, largest first; the line is the cumulative share of all stop "
        "time (sums of the hour windows' losses in range).",
        decimals=1,
        transformations=[
            # every row carries the range start as its Time: "outer" (time series) would keep one
            # row per time, "outerTabular" joins the total onto every reason row
            {"id": "joinByField", "options": {"byField": "Time", "mode": "outerTabular"}},
            {"id": "sortBy", "options": {"sort": [{"field": "hours", "desc": True}]}},
            {
                "id": "calculateField",
                "options": {
                    "mode": "cumulativeFunctions",
                    "cumulative": {"field": "hours", "reducer": "sum"},
                    "alias": "cumulative",
                },
            },
            {
                "id": "calculateField",
                "options": {
                    "mode": "binary",
                    "binary": {"left": "cumulative", "operator": "/", "right": "total"},
                    "alias": "cumulative share",
                    "replaceFields": False,
                },
            },
            {
                "id": "organize",
                "options": {"excludeByName": {"Time": True, "total": True, "cumulative": True}},
            },
        ],
        overrides=[
            {
                "matcher": {"id": "byName", "options": "cumulative share"},
                "properties": [
                    {"id": "unit", "value": "percentunit"},
                    {"id": "min", "value": 0},
                    {"id": "max", "value": 1},
                    {"id": "custom.axisPlacement", "value": "right"},
                ],
            },
            {
                "matcher": {"id": "byName", "options": "stops"},
                "properties": [{"id": "unit", "value": "short"}, {"id": "decimals", "value": 0}],
            },
        ],
        panel_options={"xField": "reason", "orientation": "vertical"},
    )


def build(timezone: str | None = None) -> dict:
    """Return the downtime and losses dashboard."""
    table = range_table(
        ("mtbf_h", "mttr_h", "failures", "minor_stops", "down_s", "availability"),
        "station",
        "MTBF and MTTR per station (selected range)",
        scopes=' AND "line" =~ /^$line$/',
    )
    lost = range_series(
        list(LOSSES), "line", "Time lost per category, selected lines (per interval)", ""
    )
    lost["fieldConfig"]["defaults"]["custom"] = {
        "drawStyle": "bars",
        "fillOpacity": 70,
        "stacking": {"mode": "normal"},
    }
    rows = [
        [(_pareto(), 14, 10), (table, 10, 10)],
        [
            (range_series(["mtbf_h"], "line", "MTBF per line per interval", '"scope"'), 12, 8),
            (range_series(["mttr_h"], "line", "MTTR per line per interval", '"scope"'), 12, 8),
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
        timezone=timezone,
    )
