"""Grafana dashboard JSON as plain dicts: panels, InfluxQL targets, variables, layout.

Every panel, target and variable names the provisioned datasource by uid (``DATASOURCE``);
queries are raw InfluxQL with Grafana's ``$timeFilter`` and ``$__interval`` macros. Units and
titles of KPI panels come from the KPI registry (``analytics.registry``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from analytics.registry import KPI_BY_ID
from dashboards import queries
from plant_sim.states import STATE_INFO
from plant_sim.zones import check_timezone

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
#: Panel minimum interval of element panels: the ``kpi_slice`` minute, so a bucket is never
#: smaller than the data it sums and counts per bucket do not depend on the zoom alone.
SLICE_INTERVAL = "1m"
#: KPI targets the colours go by (green at or above the target, orange above the warning).
OEE_TARGET = 0.85
OEE_WARNING = 0.6
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


def plant_timezone(name: str | None) -> str | None:
    """Return the IANA zone the boards show (``None`` for UTC); raises ``ValueError``."""
    if name is None or name.upper() in ("UTC", "ETC/UTC"):
        return None
    return check_timezone(name)


def unit_of(kpi_id: str) -> str:
    """Return the Grafana unit of a registry KPI (counts and elements: ``short``)."""
    if kpi_id not in KPI_BY_ID:
        return "kwatth" if kpi_id.endswith("kwh") else "s" if kpi_id.endswith("_s") else "short"
    return _UNITS[KPI_BY_ID[kpi_id].unit]


def decimals_of(kpi_id: str) -> int:
    """Return the decimals a KPI is shown with (percent to 0.1, counts whole)."""
    spec = KPI_BY_ID.get(kpi_id)
    if spec is None or spec.unit in ("count", "units"):
        return 0
    return 1 if spec.is_ratio or spec.unit == "units/h" else 2


def thresholds_of(kpi_id: str) -> dict | None:
    """Return colour steps for ratios where higher is better (against the OEE targets)."""
    spec = KPI_BY_ID.get(kpi_id)
    if spec is None or not spec.is_ratio or spec.better != "higher":
        return None
    return {
        "mode": "absolute",
        "steps": [
            {"color": "red", "value": None},
            {"color": "orange", "value": OEE_WARNING},
            {"color": "green", "value": OEE_TARGET},
        ],
    }


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


def _formats(kpi_id: str) -> dict[str, Any]:
    out: dict[str, Any] = {"decimals": decimals_of(kpi_id)}
    if (steps := thresholds_of(kpi_id)) is not None:
        out["thresholds"] = steps
    return out


#: Names of the element totals the panels show (KPIs take their registry name).
TOTAL_NAMES = {
    "gq": "Good units",
    "pq": "Produced units",
    "sq": "Scrap units",
    "delivered_orders": "Orders delivered",
    "on_time_orders": "Orders on time",
    "down_s": "Down time",
    "minor_stop_s": "Minor stop time",
    "aust_s": "Setup time",
    "adot_s": "Idle, starved, blocked",
    "planned_output": "Plan",
}


def _title(kpi_id: str) -> str:
    spec = KPI_BY_ID.get(kpi_id)
    return spec.name if spec else TOTAL_NAMES.get(kpi_id, kpi_id)


def range_stat(kpi_id: str, level: str = "plant") -> dict:
    """Return a stat of one KPI over the selected range: a ratio of sums of minute elements."""
    spec = KPI_BY_ID.get(kpi_id)
    return panel(
        "stat",
        f"{_title(kpi_id)} (selected range)",
        [target(queries.range_query([kpi_id], level))],
        unit_of(kpi_id),
        (spec.description if spec else "") + " Ratio of sums over the selected range.",
        **_formats(kpi_id),
        panel_options={"reduceOptions": {"calcs": ["lastNotNull"], "values": False}},
    )


def oee_gauge(level: str = "plant") -> dict:
    """Return a gauge of OEE over the selected range against its target."""
    return panel(
        "gauge",
        "OEE against target (selected range)",
        [target(queries.range_query(["oee"], level))],
        "percentunit",
        f"Green from the target {OEE_TARGET:.0%}, orange from {OEE_WARNING:.0%}.",
        min=0,
        max=1,
        **_formats("oee"),
        panel_options={"showThresholdMarkers": True, "showThresholdLabels": True},
    )


def column_overrides(names: Sequence[str]) -> list[dict]:
    """Return per-column unit, decimals and colour overrides for a table of KPIs."""
    out = []
    for n in names:
        props: list[dict[str, Any]] = [
            {"id": "unit", "value": unit_of(n)},
            {"id": "decimals", "value": decimals_of(n)},
            {"id": "displayName", "value": _title(n)},
        ]
        if (steps := thresholds_of(n)) is not None:
            props += [
                {"id": "thresholds", "value": steps},
                {"id": "custom.cellOptions", "value": {"type": "color-text"}},
            ]
        out.append({"matcher": {"id": "byName", "options": n}, "properties": props})
    return out


def range_table(
    names: Sequence[str],
    level: str,
    title: str,
    group_by: str = '"scope"',
    scopes: str | None = None,
    **options: Any,
) -> dict:
    """Return a table of KPIs over the selected range, one row per scope (or per ``group_by``)."""
    q = queries.range_query(list(names), level, group_by=group_by, scopes=scopes)
    return panel(
        "table",
        title,
        [target(q, fmt="table")],
        "short",
        "Ratios of sums of minute elements over the selected range.",
        overrides=column_overrides(names),
        **options,
    )


def range_series(
    names: Sequence[str], level: str, title: str, group_by: str = "", **options: Any
) -> dict:
    """Return a time series: each point the KPI of its bucket (a ratio of the bucket's sums)."""
    alias = "$col $tag_scope" if "scope" in group_by else ""
    return panel(
        "timeseries",
        title,
        [
            target(
                queries.range_query(list(names), level, group_by=group_by, by_time=True),
                alias=alias,
            )
        ],
        unit_of(names[0]),
        "One point per bucket: the ratio of the bucket's summed minute elements.",
        interval=SLICE_INTERVAL,
        **_formats(names[0]),
        **options,
    )


def window_series(kpi_id: str, level: str, window: str, scopes: str, title: str = "") -> dict:
    """Return each stored window's value of a KPI per scope: the points as they are, never
    averaged (for KPIs that are no ratio of elements, e.g. WIP or lead-time percentiles)."""
    q = (
        f'SELECT "{kpi_id}" FROM "kpi" WHERE "level" = \'{level}\' AND "window" = '
        f"'{window}' AND {KPI_FILTER}{scopes} AND $timeFilter GROUP BY \"scope\""
    )
    spec = KPI_BY_ID[kpi_id]
    return panel(
        "timeseries",
        title or f"{spec.name} per {level} ({window})",
        [target(q, alias="$tag_scope")],
        unit_of(kpi_id),
        spec.description + f" One point per {window} window.",
        decimals=decimals_of(kpi_id),
        custom={"drawStyle": "line", "showPoints": "always", "spanNulls": True},
    )


def annotation(name: str, query: str, color: str, text: str, tags: str = "") -> dict:
    """Return an InfluxQL annotation: one marker per stored record the query returns."""
    return {
        "name": name,
        "datasource": DATASOURCE,
        "enable": True,
        "iconColor": color,
        "query": query,
        "textColumn": text,
        "tagsColumn": tags,
        "titleColumn": "",
    }


def event_annotations() -> list[dict]:
    """Return the annotations every board carries: shifts, breakdowns, maintenance, scenario."""
    return [
        annotation("Shift changes", queries.SHIFT_CHANGES, "blue", "shift"),
        annotation("Breakdowns", queries.BREAKDOWNS, "red", "text", "station,reason"),
        annotation(
            "Planned maintenance", queries.PLANNED_MAINTENANCE, "light-blue", "reason", "station"
        ),
        annotation(
            "Scenario events", queries.SCENARIO_EVENTS, "purple", "name", "event,phase,target"
        ),
    ]


def board_link(uid: str, title: str, var: str) -> list[dict]:
    """Return a data link to board ``uid`` with the clicked row's scope as ``var``; the other
    variables and the time range carried over."""
    url = (
        f"/d/{uid}?var-{var}=${{__data.fields.scope}}&${{site:queryparam}}&${{run:queryparam}}"
        "&${__url_time_range}"
    )
    return [{"title": title, "url": url}]


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
    annotations: list[dict] | None = None,
    timezone: str | None = None,
) -> dict:
    """Return a whole dashboard with links to the other twin dashboards; times are shown in
    ``timezone`` (the plant's IANA zone; ``None``: UTC)."""
    return {
        "id": None,
        "uid": uid,
        "title": title,
        "description": description,
        "tags": [TAG],
        "timezone": timezone or "utc",
        "editable": True,
        "graphTooltip": 1,
        "time": {"from": time_from, "to": "now"},
        "refresh": "30s",
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "templating": {"list": templating},
        "annotations": {"list": event_annotations() if annotations is None else annotations},
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
