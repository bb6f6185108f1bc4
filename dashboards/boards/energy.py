"""Energy: kWh per good unit, idle energy, energy per station."""

from __future__ import annotations

from dashboards.model import (
    KPI_FILTER,
    dashboard,
    kpi_series,
    kpi_stat,
    layout,
    panel,
    target,
    variables,
)

UID = "twin-energy"
LINES = ' AND "line" =~ /^$line$/'
SCOPES = ' AND "scope" =~ /^$line$/'


def build() -> dict:
    """Return the energy dashboard."""
    per_station = panel(
        "barchart",
        "Energy per station (day windows in range)",
        [
            target(
                'SELECT sum("energy_kwh") AS "energy", sum("idle_energy_kwh") AS "idle" FROM '
                f'"kpi" WHERE "level" = \'station\' AND "window" = \'day\' AND {KPI_FILTER}'
                f'{LINES} AND $timeFilter GROUP BY "scope"',
                fmt="table",
            )
        ],
        "kwatth",
        panel_options={"xField": "scope", "orientation": "horizontal", "stacking": "none"},
    )
    idle_share = panel(
        "timeseries",
        "Idle energy per line (hourly)",
        [
            target(
                'SELECT mean("idle_energy_kwh") FROM "kpi" WHERE "level" = \'line\' AND '
                f"\"window\" = 'hour' AND {KPI_FILTER}{SCOPES} AND $timeFilter "
                'GROUP BY time($__interval), "scope" fill(none)',
                alias="$tag_scope",
            )
        ],
        "kwatth",
        custom={"drawStyle": "bars", "fillOpacity": 60},
    )
    rows = [
        [
            (kpi_stat("epgu_kwh", "plant", "day"), 6, 4),
            (kpi_stat("energy_kwh", "plant", "day"), 6, 4),
            (kpi_stat("idle_energy_kwh", "plant", "day"), 6, 4),
            (kpi_stat("epu_kwh", "plant", "day"), 6, 4),
        ],
        [
            (kpi_series("epgu_kwh", "line", "hour", SCOPES, "kWh per good unit (hourly)"), 12, 8),
            (kpi_series("epgu_kwh", "line", "day", SCOPES, "kWh per good unit (daily)"), 12, 8),
        ],
        [(idle_share, 12, 9), (per_station, 12, 9)],
    ]
    return dashboard(
        UID,
        "Energy",
        "Energy per good unit and energy spent waiting.",
        layout(rows),
        variables(),
        time_from="now-7d",
    )
