"""Plant overview: KPIs over the selected range, per line and per shift, states, output."""

from __future__ import annotations

from dashboards import queries
from dashboards.model import (
    RUN_FILTER,
    board_link,
    column_overrides,
    dashboard,
    layout,
    oee_gauge,
    panel,
    range_series,
    range_stat,
    range_table,
    state_mappings,
    target,
    variables,
)

UID = "twin-plant"
LINES = ' AND "line" =~ /^$line$/'
FACTORS = ("oee", "availability", "effectiveness", "quality_ratio")
SHIFT_KPIS = (*FACTORS, "throughput_uph", "failures", "gq")


def _line_table() -> dict:
    names = (*queries.HEADLINE[:-1], "failures", "gq")
    table = range_table(names, "line", "Each line over the selected range")
    table["fieldConfig"]["overrides"].append(
        {
            "matcher": {"id": "byName", "options": "scope"},
            "properties": [
                {"id": "displayName", "value": "line"},
                {"id": "links", "value": board_link("twin-line", "Line ${__value.text}", "line")},
            ],
        }
    )
    return table


def _shift_occurrences() -> dict:
    return panel(
        "table",
        "Shift over shift (each shift occurrence in range)",
        [target(queries.shift_occurrences_query(FACTORS), fmt="table")],
        "percentunit",
        "One row per shift occurrence: the KPIs of that occurrence, stored when it ended.",
        overrides=column_overrides(FACTORS),
        transformations=[{"id": "sortBy", "options": {"sort": [{"field": "Time", "desc": True}]}}],
    )


def _day_over_day(timezone: str | None) -> dict:
    days = f"local days, {timezone}" if timezone else "UTC days"
    query = queries.range_query(list(FACTORS), "plant", group_by="time(1d)", timezone=timezone)
    return panel(
        "barchart",
        f"Day over day ({days} in range)",
        [target(query, fmt="table")],
        "percentunit",
        f"Each day's KPIs ({days}): ratios of that day's summed minute elements.",
        decimals=1,
        panel_options={"xField": "Time", "orientation": "auto", "xTickLabelRotation": 0},
    )


def build(timezone: str | None = None) -> dict:
    """Return the plant overview dashboard."""
    output = panel(
        "barchart",
        "Output against plan per line (selected range)",
        [
            target(
                queries.range_query(["gq", "pq", "planned_output"], "line", group_by='"scope"'),
                fmt="table",
            )
        ],
        "short",
        description="Good and produced units per line over the selected range, and the plan: "
        "what the planned busy time gives at the planned cycle time (PBT x PQ / sum PRI x PQ).",
        decimals=0,
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
    by_shift = range_table(
        SHIFT_KPIS, "plant", "OEE by shift (selected range, all occurrences)", '"shift"'
    )
    rows = [
        [(oee_gauge(), 4, 5), *[(range_stat(k), 2, 5) for k in queries.HEADLINE if k != "oee"]],
        [(_line_table(), 24, 6)],
        [
            (
                range_series(list(FACTORS), "plant", "Plant OEE and its factors per interval", ""),
                12,
                8,
            ),
            (range_series(["oee"], "line", "OEE per line per interval", '"scope"'), 12, 8),
        ],
        [(by_shift, 8, 7), (_shift_occurrences(), 8, 7), (_day_over_day(timezone), 8, 7)],
        [(output, 8, 8), (states, 16, 8)],
    ]
    return dashboard(
        UID,
        "Plant overview",
        "OEE, its factors and output over the selected range; shifts; states.",
        layout(rows),
        variables(),
        timezone=timezone,
    )
