"""Station: KPIs over the selected range, every state change, process values, energy."""

from __future__ import annotations

from dashboards import queries
from dashboards.model import (
    RUN_FILTER,
    SLICE_INTERVAL,
    dashboard,
    layout,
    panel,
    range_series,
    range_table,
    state_mappings,
    target,
    variables,
)

UID = "twin-station"
STATIONS = ' AND "station" =~ /^$station$/'
STATION_KPIS = (
    "oee",
    "availability",
    "effectiveness",
    "quality_ratio",
    "nee",
    "throughput_uph",
    "mtbf_h",
    "mttr_h",
    "epgu_kwh",
    "failures",
    "minor_stops",
    "gq",
    "energy_kwh",
)


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


def build(timezone: str | None = None) -> dict:
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
        decimals=0,
        interval=SLICE_INTERVAL,
        custom={"drawStyle": "bars", "fillOpacity": 60, "stacking": {"mode": "normal"}},
    )
    energy = range_series(
        ["energy_kwh"], "station", "Energy per interval", '"scope"', custom={"drawStyle": "bars"}
    )
    timeline = panel(
        "state-timeline",
        "States (every change)",
        [target(queries.state_query(STATIONS), alias="$tag_station")],
        "none",
        "Every state change as stored (no bucketing): a 30 s minor stop shows at any zoom.",
        mappings=state_mappings(),
        panel_options={"showValue": "never", "mergeValues": False},
    )
    table = range_table(STATION_KPIS, "station", "Selected stations over the selected range")
    rows = [
        [(table, 24, 5)],
        [(timeline, 24, 6)],
        [
            (range_series(["oee"], "station", "OEE per interval", '"scope"'), 12, 8),
            (energy, 12, 8),
        ],
        [
            (_telemetry("temperature_c", "Temperature", "celsius"), 8, 8),
            (_telemetry("power_kw", "Power", "kwatt"), 8, 8),
            (_telemetry("speed_factor", "Speed factor", "short"), 8, 8),
        ],
        [(counters, 24, 8)],
    ]
    return dashboard(
        UID,
        "Station",
        "KPIs over the selected range, every state change, process values and energy.",
        layout(rows),
        variables(with_station=True),
        timezone=timezone,
    )
