"""Line: state timeline per station, throughput, WIP, buffer levels, bottleneck."""

from __future__ import annotations

from dashboards import queries
from dashboards.model import (
    KPI_FILTER,
    RUN_FILTER,
    SLICE_INTERVAL,
    board_link,
    dashboard,
    layout,
    panel,
    range_series,
    range_table,
    state_mappings,
    target,
    variables,
    window_series,
)

UID = "twin-line"
LINES = ' AND "line" =~ /^$line$/'
SCOPES = ' AND "scope" =~ /^$line$/'


def build(timezone: str | None = None) -> dict:
    """Return the line dashboard."""
    timeline = panel(
        "state-timeline",
        "States per station",
        [target(queries.state_query(LINES), alias="$tag_station")],
        "none",
        "Every state change as stored (no bucketing): a 30 s minor stop shows at any zoom.",
        mappings=state_mappings(),
        panel_options={"showValue": "never", "rowHeight": 0.8, "mergeValues": False},
    )
    exits = panel(
        "timeseries",
        "Finished parts per interval",
        [
            target(
                'SELECT count("part_id") FROM "part_exit" WHERE "outcome" = \'finished\' AND '
                f"{RUN_FILTER}{LINES} AND $timeFilter "
                'GROUP BY time($__interval), "line" fill(0)',
                alias="$tag_line",
            )
        ],
        "short",
        decimals=0,
        interval=SLICE_INTERVAL,
        custom={"drawStyle": "bars", "fillOpacity": 60},
    )
    buffers = panel(
        "timeseries",
        "Buffer levels",
        [
            target(
                'SELECT last("level") FROM "buffer" WHERE '
                f"{RUN_FILTER}{LINES} AND $timeFilter "
                'GROUP BY time($__interval), "buffer" fill(previous)',
                alias="$tag_buffer",
            )
        ],
        "short",
        custom={"lineInterpolation": "stepAfter"},
    )
    verdict = panel(
        "stat",
        "Bottleneck (current shift, active period method)",
        [
            target(
                'SELECT last("bottleneck_avg") FROM "kpi" WHERE "level" = \'line\' AND '
                f"\"window\" = 'shift' AND {KPI_FILTER}{SCOPES} AND $timeFilter "
                'GROUP BY "scope"',
                alias="$tag_scope",
            )
        ],
        "none",
        panel_options={
            "textMode": "value_and_name",
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "/.*/", "values": False},
        },
    )
    table = panel(
        "table",
        "Active periods per station (current shift)",
        [
            target(
                'SELECT last("avg_active_period_s") AS "avg active period", '
                'last("active_ratio") AS "active", last("sole_bottleneck_ratio") AS "sole", '
                'last("shifting_bottleneck_ratio") AS "shifting", last("blocked_ratio") AS '
                '"blocked", last("starved_ratio") AS "starved" FROM "kpi" WHERE "level" = '
                f"'station' AND \"window\" = 'shift' AND {KPI_FILTER}{LINES} AND $timeFilter "
                'GROUP BY "scope"',
                fmt="table",
            )
        ],
        "percentunit",
        overrides=[
            {
                "matcher": {"id": "byName", "options": "avg active period"},
                "properties": [{"id": "unit", "value": "s"}],
            }
        ],
    )
    lines = range_table(
        (*queries.HEADLINE[:-1], "line_lead_time_avg_s", "failures", "minor_stops", "gq", "sq"),
        "line",
        "Selected lines over the selected range",
    )
    stations = range_table(
        (*queries.HEADLINE[:-2], "failures", "gq"),
        "station",
        "Stations over the selected range",
        scopes=' AND "line" =~ /^$line$/',
    )
    stations["fieldConfig"]["overrides"].append(
        {
            "matcher": {"id": "byName", "options": "scope"},
            "properties": [
                {"id": "displayName", "value": "station"},
                {
                    "id": "links",
                    "value": board_link("twin-station", "Station ${__value.text}", "station"),
                },
            ],
        }
    )
    rows = [
        [(lines, 24, 5)],
        [(timeline, 24, 10)],
        [(stations, 24, 8)],
        [
            (
                range_series(["throughput_uph"], "line", "Throughput per interval", '"scope"'),
                8,
                8,
            ),
            (exits, 8, 8),
            (window_series("wip_avg", "line", "hour", SCOPES, "WIP (time-weighted, hourly)"), 8, 8),
        ],
        [
            (
                range_series(
                    ["line_lead_time_avg_s"],
                    "line",
                    "Line lead time (order released to exit) per interval",
                    '"scope"',
                ),
                24,
                8,
            )
        ],
        [(buffers, 12, 8), (verdict, 4, 8), (table, 8, 8)],
    ]
    return dashboard(
        UID,
        "Line",
        "States, flow and the bottleneck of the selected lines.",
        layout(rows),
        variables(),
        timezone=timezone,
    )
