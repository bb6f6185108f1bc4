"""Grafana dashboard JSON as plain dicts: panels, InfluxQL targets, variables, layout.

Every panel, target and variable names the provisioned datasource by uid (``DATASOURCE``);
queries are raw InfluxQL with Grafana's ``$timeFilter`` and ``$__interval`` macros. Units and
titles of KPI panels come from the KPI registry (``analytics.registry``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from analytics.registry import KPI_BY_ID
from plant_sim.states import STATE_INFO

DATASOURCE_UID = "twin-influxdb"
DATASOURCE = {"type": "influxdb", "uid": DATASOURCE_UID}
SCHEMA_VERSION = 39
TAG = "twin"
#: Filters every ``kpi`` query carries (template variables site and run).
KPI_FILTER = '"site" =~ /^$site$/ AND "run_id" =~ /^$run$/'
RUN_FILTER = '"run_id" =~ /^$run$/'

_UNITS = {
    "ratio": "percentunit",
    "h": "h",
    "s": "s",
    "kWh": "kwatth",
    "kWh/unit": "kwatth",
    "units/h": "suffix: u/h",
    "units": "short",
    "count": "short",
}
STATE_COLORS = {
    "processing": "green",
    "setup": "blue",
    "minor_stop": "yellow",
    "down": "red",
    "starved": "orange",
    "blocked": "purple",
    "idle": "text",
    "planned_downtime": "light-blue",
    "off_shift": "dark-gray",
}


def unit_of(kpi_id: str) -> str:
    """Return the Grafana unit of a registry KPI."""
    return _UNITS[KPI_BY_ID[kpi_id].unit]


def title_of(kpi_id: str) -> str:
    """Return the registry name of a KPI."""
    return KPI_BY_ID[kpi_id].name


def target(query: str, ref: str = "A", fmt: str = "time_series", alias: str = "") -> dict:
    """Return a raw InfluxQL target."""
    out: dict[str, Any] = {
        "refId": ref,
        "datasource": DATASOURCE,
        "rawQuery": True,
        "query": query,
        "resultFormat": fmt,
    }
    if alias:
        out["alias"] = alias
    return out


def state_mappings() -> list[dict]:
    """Return value mappings: simulator state number -> name and colour (plant_sim.states)."""
    options = {
        str(info.number): {
            "text": state.value,
            "color": STATE_COLORS[state.value],
            "index": info.number,
        }
        for state, info in STATE_INFO.items()
    }
    return [{"type": "value", "options": options}]


def panel(
    kind: str,
    title: str,
    targets: Sequence[dict],
    unit: str = "short",
    description: str = "",
    **options: Any,
) -> dict:
    """Return a panel of ``kind`` (grid position set later by ``layout``)."""
    defaults: dict[str, Any] = {"unit": unit}
    for key in ("min", "max", "decimals", "mappings", "thresholds", "color"):
        if key in options:
            defaults[key] = options.pop(key)
    custom = options.pop("custom", None)
    if custom:
        defaults["custom"] = custom
    out = {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "targets": [dict(t, refId=chr(ord("A") + i)) for i, t in enumerate(targets)],
        "fieldConfig": {"defaults": defaults, "overrides": options.pop("overrides", [])},
        "options": options.pop("panel_options", {}),
    }
    out.update(options)
    return out


def kpi_stat(kpi_id: str, level: str, window: str, extra: str = "") -> dict:
    """Return a stat panel of the latest value of a registry KPI."""
    spec = KPI_BY_ID[kpi_id]
    q = (
        f'SELECT last("{kpi_id}") FROM "kpi" WHERE "level" = \'{level}\' AND "window" = '
        f"'{window}' AND {KPI_FILTER}{extra} AND $timeFilter"
    )
    thresholds = None
    if spec.is_ratio and spec.better == "higher":
        thresholds = {
            "mode": "absolute",
            "steps": [
                {"color": "red", "value": None},
                {"color": "orange", "value": 0.6},
                {"color": "green", "value": 0.85},
            ],
        }
    opts: dict[str, Any] = {"decimals": 1 if spec.is_ratio else 2}
    if thresholds:
        opts["thresholds"] = thresholds
    return panel(
        "stat", f"{spec.name} ({window})", [target(q)], unit_of(kpi_id), spec.description, **opts
    )


def kpi_series(
    kpi_id: str,
    level: str,
    window: str,
    scope_filter: str,
    title: str = "",
    kind: str = "timeseries",
) -> dict:
    """Return a time series of a registry KPI per scope, one point per window start."""
    q = (
        f'SELECT mean("{kpi_id}") FROM "kpi" WHERE "level" = \'{level}\' AND "window" = '
        f"'{window}' AND {KPI_FILTER}{scope_filter} AND $timeFilter "
        'GROUP BY time($__interval), "scope" fill(none)'
    )
    spec = KPI_BY_ID[kpi_id]
    return panel(
        kind,
        title or f"{spec.name} per {level} ({window})",
        [target(q, alias="$tag_scope")],
        unit_of(kpi_id),
        spec.description,
        custom={"drawStyle": "line", "showPoints": "always", "spanNulls": True},
    )


def variable(name: str, query: str, label: str) -> dict:
    """Return a query variable (multi-select, "All" = any value)."""
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DATASOURCE,
        "query": query,
        "definition": query,
        "refresh": 2,
        "multi": True,
        "includeAll": True,
        "allValue": ".*",
        "current": {"text": "All", "value": "$__all"},
        "sort": 1,
    }


def variables(with_station: bool = False) -> list[dict]:
    """Return the site, run, line (and station) variables, each filtered by the ones before."""
    out = [
        variable("site", 'SHOW TAG VALUES FROM "kpi" WITH KEY = "site"', "Site"),
        variable(
            "run", 'SHOW TAG VALUES FROM "kpi" WITH KEY = "run_id" WHERE "site" =~ /^$site$/', "Run"
        ),
        variable(
            "line",
            'SHOW TAG VALUES FROM "kpi" WITH KEY = "line" WHERE "level" = \'line\' '
            'AND "site" =~ /^$site$/ AND "run_id" =~ /^$run$/',
            "Line",
        ),
    ]
    if with_station:
        out.append(
            variable(
                "station",
                'SHOW TAG VALUES FROM "kpi" WITH KEY = "scope" WHERE "level" = '
                '\'station\' AND "line" =~ /^$line$/ AND "run_id" =~ /^$run$/',
                "Station",
            )
        )
    return out


def layout(rows: Iterable[Sequence[tuple[dict, int, int]]]) -> list[dict]:
    """Place panels: each row is ``(panel, width, height)`` left to right; ids in order."""
    out, y, pid = [], 0, 1
    for row in rows:
        x, height = 0, 0
        for p, w, h in row:
            out.append(dict(p, id=pid, gridPos={"x": x, "y": y, "w": w, "h": h}))
            pid, x, height = pid + 1, x + w, max(height, h)
        y += height
    return out


def dashboard(
    uid: str,
    title: str,
    description: str,
    panels: list[dict],
    templating: list[dict],
    time_from: str = "now-24h",
) -> dict:
    """Return a whole dashboard with links to the other twin dashboards."""
    return {
        "id": None,
        "uid": uid,
        "title": title,
        "description": description,
        "tags": [TAG],
        "timezone": "utc",
        "editable": True,
        "graphTooltip": 1,
        "time": {"from": time_from, "to": "now"},
        "refresh": "30s",
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "templating": {"list": templating},
        "annotations": {"list": []},
        "links": [
            {
                "type": "dashboards",
                "tags": [TAG],
                "asDropdown": True,
                "includeVars": True,
                "keepTime": True,
                "title": "Twin dashboards",
            }
        ],
        "panels": panels,
    }
