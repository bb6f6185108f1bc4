"""Energy: kWh per good unit, idle energy, energy per station, over the selected range."""

from __future__ import annotations

from dashboards.model import (
    dashboard,
    layout,
    range_series,
    range_stat,
    range_table,
    variables,
)

UID = "twin-energy"


def build(timezone: str | None = None) -> dict:
    """Return the energy dashboard."""
    per_station = range_table(
        ("energy_kwh", "idle_energy_kwh", "epgu_kwh", "gq"),
        "station",
        "Energy per station (selected range)",
        scopes=' AND "line" =~ /^$line$/',
    )
    idle = range_series(["idle_energy_kwh"], "line", "Idle energy per line per interval", '"scope"')
    idle["fieldConfig"]["defaults"]["custom"] = {"drawStyle": "bars", "fillOpacity": 60}
    rows = [
        [(range_stat(k), 6, 4) for k in ("epgu_kwh", "energy_kwh", "idle_energy_kwh", "epu_kwh")],
        [
            (
                range_series(["epgu_kwh"], "line", "kWh per good unit per interval", '"scope"'),
                24,
                8,
            ),
        ],
        [(idle, 12, 9), (per_station, 12, 9)],
    ]
    return dashboard(
        UID,
        "Energy",
        "Energy per good unit and energy spent waiting.",
        layout(rows),
        variables(),
        time_from="now-7d",
        timezone=timezone,
    )
