"""Plant overview: OEE and its factors per line, output against plan, current states."""

from __future__ import annotations

from dashboards.model import (
    KPI_FILTER,
    RUN_FILTER,
    dashboard,
    kpi_series,
    kpi_stat,
    layout,
    panel,
    state_mappings,
    target,
    variables,
)

UID = "twin-plant"
LINES = ' AND "line" =~ /^$line$/'


def build() -> dict:
    """Return the plant overview dashboard."""
    oee_lines = panel(
        "bargauge",
        "OEE per line (current shift)",
        [
            target(
                'SELECT last("oee") FROM "kpi" WHERE "level" = \'line\' AND "window" = \'shift\''
                f' AND {KPI_FILTER}{LINES} AND $timeFilter GROUP BY "scope"',
                alias="$tag_scope",
            )
        ],
        "percentunit",
        min=0,
        max=1,
        decimals=1,
        panel_options={"orientation": "horizontal", "displayMode": "gradient"},
    )
    line_factors = panel(
        "table",
        "OEE and its factors per line (current shift)",
        [
            target(
                'SELECT last("oee") AS "OEE", last("availability") AS "availability", '
                'last("effectiveness") AS "effectiveness", last("quality_ratio") AS "quality" '
                'FROM "kpi" WHERE "level" = \'line\' AND "window" = \'shift\''
                f' AND {KPI_FILTER}{LINES} AND $timeFilter GROUP BY "scope"',
                fmt="table",
            )
        ],
        "percentunit",
        decimals=1,
        description="Line elements are sums over its stations; output counted at the last one.",
    )
    factors = panel(
        "timeseries",
        "Plant OEE and its factors (hourly)",
        [
            target(
                f'SELECT mean("{k}") AS "{k}" FROM "kpi" WHERE "level" = \'plant\' AND '
                f"\"window\" = 'hour' AND {KPI_FILTER} AND $timeFilter "
                "GROUP BY time($__interval) fill(none)"
            )
            for k in ("oee", "availability", "effectiveness", "quality_ratio")
        ],
        "percentunit",
        custom={"showPoints": "always", "spanNulls": True},
    )
    output = panel(
        "barchart",
        "Output against plan per line (day)",
        [
            target(
                'SELECT last("gq") AS "good", last("pq") AS "produced", last("planned_output") '
                'AS "plan" FROM "kpi" WHERE "level" = \'line\' AND "window" = \'day\' AND '
                f'{KPI_FILTER}{LINES} AND $timeFilter GROUP BY "scope"',
                fmt="table",
            )
        ],
        "short",
        description="Good and produced units against planned busy time at the planned "
        "cycle time (PBT x PQ / sum of PRI x PQ).",
        panel_options={"xField": "scope", "orientation": "horizontal"},
    )
    states = panel(
        "stat",
        "Current state per station",
        [
            target(
                'SELECT last("state_num") FROM "machine_state" WHERE '
                f'{RUN_FILTER}{LINES} AND $timeFilter GROUP BY "station"',
                alias="$tag_station",
            )
        ],
        "none",
        mappings=state_mappings(),
        panel_options={
            "colorMode": "background",
            "graphMode": "none",
            "textMode": "value_and_name",
        },
    )
    rows = [
        [
            (kpi_stat(k, "plant", "shift"), 4, 4)
            for k in (
                "oee",
                "availability",
                "effectiveness",
                "quality_ratio",
                "throughput_uph",
                "otd",
            )
        ],
        [(oee_lines, 8, 8), (line_factors, 16, 8)],
        [(factors, 24, 8)],
        [
            (kpi_series("oee", "line", "hour", LINES.replace('"line"', '"scope"')), 12, 8),
            (output, 12, 8),
        ],
        [(states, 24, 8)],
    ]
    return dashboard(
        UID,
        "Plant overview",
        "OEE, output and states of the whole plant.",
        layout(rows),
        variables(),
    )
