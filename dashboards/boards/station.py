"""Station: process values, counters, energy, KPIs of the selected stations."""

from __future__ import annotations

from dashboards.model import (
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

UID = "twin-station"
STATIONS = ' AND "station" =~ /^$station$/'
SCOPES = ' AND "scope" =~ /^$station$/'


def _telemetry(field: str, title: str, unit: str) -> dict:
    return panel(
        "timeseries",
        title,
        [
            target(
                f'SELECT mean("{field}") FROM "telemetry" '
                f"WHERE {RUN_FILTER}{STATIONS} AND $timeFilter "
                'GROUP BY time($__interval), "station" fill(none)',
                alias="$tag_station",
            )
        ],
        unit,
    )


def build() -> dict:
    """Return the station dashboard."""
    counters = panel(
        "timeseries",
        "Parts judged per interval",
        [
            target(
                'SELECT count("part_id") FROM "part_event" WHERE '
                f"{RUN_FILTER}{STATIONS} AND $timeFilter "
                'GROUP BY time($__interval), "result" fill(0)',
                alias="$tag_result",
            )
        ],
        "short",
        custom={"drawStyle": "bars", "fillOpacity": 60, "stacking": {"mode": "normal"}},
    )
    energy = panel(
        "timeseries",
        "Energy counter",
        [
            target(
                'SELECT max("energy_kwh") FROM "telemetry" WHERE '
                f"{RUN_FILTER}{STATIONS} AND $timeFilter "
                'GROUP BY time($__interval), "station" fill(none)',
                alias="$tag_station",
            )
        ],
        "kwatth",
    )
    timeline = panel(
        "state-timeline",
        "States",
        [
            target(
                'SELECT last("state_num") FROM "machine_state" WHERE '
                f"{RUN_FILTER}{STATIONS} AND $timeFilter "
                'GROUP BY time($__interval), "station" fill(previous)',
                alias="$tag_station",
            )
        ],
        "none",
        mappings=state_mappings(),
        panel_options={"showValue": "never"},
    )
    stats = [
        (kpi_stat(k, "station", "shift", SCOPES), 4, 4)
        for k in ("oee", "availability", "effectiveness", "quality_ratio", "mtbf_h", "mttr_h")
    ]
    rows = [
        stats,
        [(timeline, 24, 6)],
        [
            (_telemetry("temperature_c", "Temperature", "celsius"), 8, 8),
            (_telemetry("power_kw", "Power", "kwatt"), 8, 8),
            (_telemetry("speed_factor", "Speed factor", "short"), 8, 8),
        ],
        [
            (counters, 8, 8),
            (energy, 8, 8),
            (kpi_series("energy_kwh", "station", "hour", SCOPES, "Energy per hour"), 8, 8),
        ],
    ]
    return dashboard(
        UID,
        "Station",
        "Process values, counters and energy of stations.",
        layout(rows),
        variables(with_station=True),
    )
