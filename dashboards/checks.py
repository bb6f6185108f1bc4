"""Structural checks of dashboard JSON, and Grafana's macro expansion for running the queries.

``check(boards)`` returns the problems found (empty when fine): unique dashboard uids of the
allowed shape, unique panel ids, grid widths, known panel types, the provisioned datasource by
uid everywhere, ``$timeFilter`` in every panel and annotation query, no InfluxQL that InfluxDB 3
lacks, variables that exist, known measurements, a schemaVersion Grafana 11-13 migrates, no
absolute time ranges, and no aggregate that averages or adds a ratio (``NON_ADDITIVE``: a
ratio over several windows is a ratio of sums, ``dashboards.queries``).
``expand(query, ...)`` does what Grafana does before sending a query.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from analytics.registry import KPIS
from analytics.service.kpi_schema import KPI_MEASUREMENT, LOSS_MEASUREMENT
from analytics.service.service import STATS_MEASUREMENT
from analytics.service.slices import SLICE_MEASUREMENT
from analytics.service.stops import STOP_MEASUREMENT
from analytics.whatif.influx import KPI_MEASUREMENT as WHATIF_KPI
from analytics.whatif.influx import REPLICATION_MEASUREMENT as WHATIF_REPLICATION
from dashboards.model import DATASOURCE_UID
from plant_sim.telemetry_schema import METRICS_MEASUREMENT, SCHEMAS

PANEL_TYPES = frozenset(
    {
        "timeseries",
        "stat",
        "gauge",
        "bargauge",
        "table",
        "state-timeline",
        "barchart",
        "piechart",
        "text",
        "row",
    }
)
MEASUREMENTS = frozenset(
    {s.measurement for s in SCHEMAS.values()}
    | {
        KPI_MEASUREMENT,
        LOSS_MEASUREMENT,
        SLICE_MEASUREMENT,
        STOP_MEASUREMENT,
        METRICS_MEASUREMENT,
        STATS_MEASUREMENT,
        WHATIF_KPI,
        WHATIF_REPLICATION,
    }
)
UNSUPPORTED_3X = (
    "SLIMIT",
    "SOFFSET",
    "SHOW SERIES",
    "SHOW DATABASES",
    "CARDINALITY",
    "INTEGRAL(",
    "SAMPLE(",
    "HOLT_WINTERS",
    "EXPONENTIAL_MOVING_AVERAGE",
    "DOUBLE_EXPONENTIAL",
    "KAUFMANS",
    "CHANDE_MOMENTUM",
    "RELATIVE_STRENGTH",
    "TRIPLE_EXPONENTIAL",
    "INTO ",
)
SCHEMA_VERSIONS = range(36, 43)
#: KPI fields that are totals over their window (adding them over windows is right).
ADDITIVE = frozenset(
    {"failures", "minor_stops", "energy_kwh", "idle_energy_kwh", "material_starved_h"}
    | {"stockouts", "stockout_h"}
)
#: Stored KPI fields that no aggregate may average or add: ratios, rates, means, percentiles,
#: levels (their value over several windows is a ratio of sums, not a mean of values).
NON_ADDITIVE = frozenset(k.id for k in KPIS if k.id not in ADDITIVE)
#: Aggregates that mix the values of several points.
_MIXING = ("MEAN", "MEDIAN", "MODE", "SUM", "INTEGRAL", "MOVING_AVERAGE", "CUMULATIVE_SUM")
_AGGREGATE = re.compile(r'(\w+)\(\s*"(\w+)"')
_UID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
_VAR = re.compile(r"\$(\w+)")
_FROM = re.compile(r'FROM\s+"([^"]+)"', re.IGNORECASE)
_BUILTIN = {
    "timeFilter",
    "__interval",
    "__interval_ms",
    "tag_scope",
    "tag_station",
    "tag_line",
    "tag_buffer",
    "tag_result",
    "tag_gateway",
    "tag_source",
    "tag_service",
    "tag_reason",
    "tag_material",
    "tag_shift",
    "col",
}


def panels(board: Mapping[str, Any]) -> Iterator[dict]:
    """Yield every panel, rows' nested panels included."""
    for p in board.get("panels", []):
        yield p
        yield from p.get("panels", [])


def queries(board: Mapping[str, Any]) -> Iterator[tuple[dict, dict]]:
    """Yield ``(panel, target)`` for every panel target."""
    for p in panels(board):
        for t in p.get("targets", []):
            yield p, t


def _check_board(name: str, board: Mapping[str, Any]) -> list[str]:
    out = []
    if not _UID.match(str(board.get("uid", ""))):
        out.append(f"{name}: uid {board.get('uid')!r} is not 1-40 of [A-Za-z0-9_-]")
    if board.get("schemaVersion") not in SCHEMA_VERSIONS:
        out.append(f"{name}: schemaVersion {board.get('schemaVersion')} outside 36..42")
    time = board.get("time", {})
    if not str(time.get("from", "")).startswith("now") or time.get("to") != "now":
        out.append(f"{name}: time range {time} is not relative to now")
    names = {v["name"] for v in board.get("templating", {}).get("list", [])}
    for v in board.get("templating", {}).get("list", []):
        if v.get("datasource", {}).get("uid") != DATASOURCE_UID:
            out.append(f"{name}: variable {v['name']} does not use datasource {DATASOURCE_UID}")
        out += _check_query(f"{name}: variable {v['name']}", v.get("query", ""), names, False)
    for a in board.get("annotations", {}).get("list", []):
        where = f"{name}: annotation {a.get('name')!r}"
        if a.get("datasource", {}).get("uid") != DATASOURCE_UID:
            out.append(f"{where}: datasource is not uid {DATASOURCE_UID}")
        out += _check_query(where, a.get("query", ""), names, True)
    ids = [p.get("id") for p in panels(board)]
    if len(ids) != len(set(ids)):
        out.append(f"{name}: panel ids are not unique")
    for p in panels(board):
        out += _check_panel(name, p, names)
    return out


def _check_panel(name: str, p: Mapping[str, Any], names: set[str]) -> list[str]:
    where = f"{name}: panel {p.get('id')} {p.get('title')!r}"
    out = []
    if p.get("type") not in PANEL_TYPES:
        out.append(f"{where}: unknown panel type {p.get('type')!r}")
    w = p.get("gridPos", {}).get("w", 0)
    if not 1 <= w <= 24:
        out.append(f"{where}: gridPos.w {w} outside 1..24")
    if p.get("type") != "row" and p.get("datasource", {}).get("uid") != DATASOURCE_UID:
        out.append(f"{where}: datasource is not uid {DATASOURCE_UID}")
    for t in p.get("targets", []):
        if t.get("datasource", {}).get("uid") != DATASOURCE_UID:
            out.append(f"{where} target {t.get('refId')}: datasource is not uid {DATASOURCE_UID}")
        out += _check_query(f"{where} target {t.get('refId')}", t.get("query", ""), names, True)
    return out


def _check_query(where: str, query: str, names: set[str], needs_time: bool) -> list[str]:
    out = []
    if not query.strip():
        return [f"{where}: empty query"]
    if needs_time and "$timeFilter" not in query:
        out.append(f"{where}: no $timeFilter")
    upper = query.upper()
    out += [
        f"{where}: uses {kw.strip()}, which InfluxDB 3 does not run"
        for kw in UNSUPPORTED_3X
        if kw in upper
    ]
    out += [
        f"{where}: unknown variable ${v}"
        for v in _VAR.findall(query)
        if v not in names and v not in _BUILTIN
    ]
    out += [
        f"{where}: unknown measurement {m!r}" for m in _FROM.findall(query) if m not in MEASUREMENTS
    ]
    out += averaged_ratios(where, query)
    return out


def averaged_ratios(where: str, query: str) -> list[str]:
    """Return a problem for each aggregate that mixes a ratio field (``mean("oee")``)."""
    return [
        f'{where}: {fn}("{field}") mixes the values of a ratio; use a ratio of sums'
        for fn, field in _AGGREGATE.findall(query)
        if fn.upper() in _MIXING and field in NON_ADDITIVE
    ]


_KINDS = {dict: "an object", list: "a list", str: "a string", int: "a number"}


class _Shape:
    """The JSON types the checks read where a dashboard has them (a hand-edited file may
    not): each value not of its type is a problem naming its path, and reads as absent."""

    def __init__(self, name: str) -> None:
        self.name, self.problems = name, []

    def get(self, where: str, value: Any, typ: type, required: bool = False) -> Any:
        if isinstance(value, typ):
            return value
        if value is not None or required:
            got = "missing or null" if value is None else type(value).__name__
            self.problems.append(f"{self.name}: {where} is {got}, not {_KINDS[typ]}")
        return None

    def items(self, where: str, value: Any) -> list[tuple[str, dict]]:
        """The objects of a list, with their paths."""
        out = []
        for i, item in enumerate(self.get(where, value, list) or []):
            if (obj := self.get(f"{where}[{i}]", item, dict, True)) is not None:
                out.append((f"{where}[{i}]", obj))
        return out

    def board(self, board: Mapping[str, Any]) -> list[str]:
        for key in ("uid", "title"):
            self.get(key, board.get(key), str)
        self.get("time", board.get("time"), dict)
        for key in ("templating", "annotations"):
            section = self.get(key, board.get(key), dict) or {}
            for where, item in self.items(f"{key}.list", section.get("list")):
                self.get(f"{where}.name", item.get("name"), str, key == "templating")
                self.get(f"{where}.datasource", item.get("datasource"), dict)
                self.get(f"{where}.query", item.get("query"), str)
        self.panels("panels", board.get("panels"))
        return self.problems

    def panels(self, where: str, value: Any) -> None:
        for at, panel in self.items(where, value):
            grid = self.get(f"{at}.gridPos", panel.get("gridPos"), dict) or {}
            self.get(f"{at}.gridPos.w", grid.get("w"), int)
            self.get(f"{at}.datasource", panel.get("datasource"), dict)
            for target_at, target in self.items(f"{at}.targets", panel.get("targets")):
                self.get(f"{target_at}.datasource", target.get("datasource"), dict)
                self.get(f"{target_at}.query", target.get("query"), str)
            if where == "panels":  # a row's panels (one level, as ``panels`` reads them)
                self.panels(f"{at}.panels", panel.get("panels"))


def check(boards: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Return every problem of a set of dashboards (by file name); empty when all is well.

    A board whose JSON types are not a dashboard's gets those problems only."""
    out = []
    shapes = {name: _Shape(name).board(board) for name, board in boards.items()}
    out += [p for problems in shapes.values() for p in problems]
    boards = {name: b for name, b in boards.items() if not shapes[name]}
    uids = [b.get("uid") for b in boards.values()]
    out += [f"uid {u!r} is used twice" for u in set(uids) if uids.count(u) > 1]
    titles = [b.get("title") for b in boards.values()]
    out += [f"title {t!r} is used twice" for t in set(titles) if titles.count(t) > 1]
    for name, board in boards.items():
        out += _check_board(name, board)
    return out


def regex_value(values: list[str]) -> str:
    """Return a variable's value as Grafana puts it into ``=~ /^$var$/`` (escaped alternation)."""
    escaped = [re.sub(r"([\\/.*+?^${}()|\[\]-])", r"\\\1", v) for v in values]
    return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"


def expand(
    query: str,
    from_ms: int,
    to_ms: int,
    interval: str = "1m",
    variables: Mapping[str, str] | None = None,
) -> str:
    """Return ``query`` with Grafana's macros and template variables replaced.

    ``variables`` maps a name to its already formatted value (``.*`` for All, or
    ``regex_value([...])``); ``$timeFilter`` becomes Grafana's ``time >= Xms and time <= Yms``.
    """
    out = query.replace("$timeFilter", f"time >= {from_ms}ms and time <= {to_ms}ms")
    out = out.replace("$__interval_ms", str(_interval_ms(interval)))
    out = out.replace("$__interval", interval)
    for name, value in sorted((variables or {}).items(), key=lambda kv: -len(kv[0])):
        out = out.replace(f"${name}", value)
    return out


def _interval_ms(interval: str) -> int:
    units = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
    match = re.fullmatch(r"(\d+)(ms|s|m|h|d)", interval)
    if not match:
        raise ValueError(f"interval {interval!r} is not like 10s, 1m, 1h")
    return int(match.group(1)) * units[match.group(2)]
