"""What ``twin top`` reads from InfluxDB: one place for its InfluxQL and the ratios it forms.

Every figure comes from what the pipeline stores: station states from ``machine_state``
(the gateway's records), KPIs from the analytics service's ``kpi``/``kpi_loss`` points of the
newest window of one kind (shift by default) and lag from ``gateway_stats``. Ratios are
formed here from the window's summed elements, never averaged: A = APT/PBT, P = Σ(PRI·PQ)/APT,
Q = GQ/PQ and OEE = Σ(PRI·PQ)·(GQ/PQ)/PBT, the engine's own reduced form (``analytics.kpis``).
Σ(PRI·PQ) is the stored ``pri_pq_s`` when the point has it, else PBT·PQ/``planned_output``
(the same number: ``kpi_schema.planned_output`` is PBT·PQ/Σ(PRI·PQ)). Line and plant points
hold sums of their stations' elements, so their ratios are ratios of sums too.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from plant_sim.telemetry_schema import quote_ident, quote_literal
from twin_io.influx import InfluxQL

WINDOW_KINDS = ("shift", "hour", "day")


def ratio(num: float | None, den: float | None) -> float | None:
    """``num / den``; ``None`` (undefined, shown as —) when a part is missing or ``den`` is 0."""
    if num is None or not den:
        return None
    return num / den


@dataclass(frozen=True, slots=True)
class Elements:
    """The summed KPI elements of one scope over the window, as stored in its ``kpi`` point."""

    pbt_s: float = 0.0
    apt_s: float = 0.0
    pq: float = 0.0
    gq: float = 0.0
    pri_pq_s: float | None = None

    @classmethod
    def of(cls, row: dict[str, Any]) -> Elements:
        """Read the elements of a ``kpi`` row (missing elements count as 0)."""
        pbt, pq = float(row.get("pbt_s") or 0.0), float(row.get("pq") or 0.0)
        pri_pq = row.get("pri_pq_s")
        if pri_pq is None and row.get("planned_output"):
            pri_pq = pbt * pq / float(row["planned_output"])
        return cls(
            pbt,
            float(row.get("apt_s") or 0.0),
            pq,
            float(row.get("gq") or 0.0),
            None if pri_pq is None else float(pri_pq),
        )

    @property
    def availability(self) -> float | None:
        """A = APT / PBT."""
        return ratio(self.apt_s, self.pbt_s)

    @property
    def performance(self) -> float | None:
        """P (effectiveness) = Σ(PRI·PQ) / APT."""
        return ratio(self.pri_pq_s, self.apt_s)

    @property
    def quality(self) -> float | None:
        """Q = GQ / PQ."""
        return ratio(self.gq, self.pq)

    @property
    def oee(self) -> float | None:
        """OEE = Σ(PRI·PQ)·(GQ/PQ)/PBT; undefined unless PBT, APT and PQ are all above 0."""
        if self.pbt_s <= 0 or self.apt_s <= 0 or self.pq <= 0 or self.pri_pq_s is None:
            return None
        return self.pri_pq_s * (self.gq / self.pq) / self.pbt_s


@dataclass(frozen=True, slots=True)
class StationView:
    """One station: its current state and its window's KPIs."""

    line: str
    station: str
    state: str
    reason: str | None
    since_ms: int
    elements: Elements
    throughput_uph: float | None = None


@dataclass(frozen=True, slots=True)
class ScopeView:
    """A line or the plant over the window."""

    scope: str
    elements: Elements
    values: dict[str, Any] = field(default_factory=dict)


@dataclass
class Snapshot:
    """Everything ``twin top`` shows, for one run at one moment of the data's clock."""

    run_id: str | None
    latest_ms: int | None
    window: str
    window_start_ms: int | None = None
    shift: str | None = None
    t0_s: float | None = None
    t1_s: float | None = None
    stations: list[StationView] = field(default_factory=list)
    lines: list[ScopeView] = field(default_factory=list)
    plant: ScopeView | None = None
    losses: list[tuple[str, int, float]] = field(default_factory=list)
    gateway: dict[str, float] = field(default_factory=dict)
    note: str | None = None


def _rows(docs: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Yield every row of a ``/query`` answer as column -> value, the series' tags included."""
    for doc in docs:
        for result in doc.get("results", []):
            for series in result.get("series", []) or []:
                tags = series.get("tags") or {}
                cols = series["columns"]
                for values in series["values"]:
                    yield {**tags, **dict(zip(cols, values, strict=True))}


def _run(run_id: str) -> str:
    return f"{quote_ident('run_id')} = {quote_literal(run_id)}"


def newest_run(ql: InfluxQL) -> tuple[str | None, int | None]:
    """Return the run whose newest state record is the newest of all, and that time (ms)."""
    rows = _rows(ql.query('SELECT last("state") FROM "machine_state" GROUP BY "run_id"'))
    best = max(rows, key=lambda r: r["time"], default=None)
    if best is None:
        return None, None
    return best["run_id"], int(best["time"]) // 1_000_000


def latest_ms(ql: InfluxQL, run_id: str) -> int | None:
    """Return the time (ms) of the run's newest state record."""
    q = f'SELECT last("state") FROM "machine_state" WHERE {_run(run_id)}'
    rows = list(_rows(ql.query(q)))
    return int(rows[0]["time"]) // 1_000_000 if rows else None


def station_states(ql: InfluxQL, run_id: str) -> dict[tuple[str, str], dict[str, Any]]:
    """Return each station's last state record: (line, station) -> state, reason, time."""
    q = (
        f'SELECT last("state") AS "state", "reason" FROM "machine_state" WHERE {_run(run_id)} '
        'GROUP BY "line", "station"'
    )
    return {(r["line"], r["station"]): r for r in _rows(ql.query(q))}


def flow_order(ql: InfluxQL, run_id: str) -> dict[tuple[str, str], int]:
    """Return each station's place in the plant (lines, then stations in flow order)."""
    q = f'SELECT last("lines") AS "lines" FROM "run_start" WHERE {_run(run_id)}'
    rows = list(_rows(ql.query(q)))
    order: dict[tuple[str, str], int] = {}
    if rows and rows[0].get("lines"):
        for line in json.loads(rows[0]["lines"]):
            for station in line.get("stations", []):
                order[(line["line"], station)] = len(order)
    return order


def newest_window(ql: InfluxQL, run_id: str, kind: str) -> int | None:
    """Return the start (ns) of the run's newest ``kpi`` window of ``kind``, if any."""
    q = (
        f'SELECT last("pbt_s") FROM "kpi" WHERE {_run(run_id)} '
        f"AND {quote_ident('window')} = {quote_literal(kind)}"
    )
    rows = list(_rows(ql.query(q)))
    return int(rows[0]["time"]) if rows else None


def kpi_points(ql: InfluxQL, run_id: str, kind: str, start_ns: int) -> list[dict[str, Any]]:
    """Return every scope's ``kpi`` row of one window."""
    q = (
        f'SELECT * FROM "kpi" WHERE {_run(run_id)} AND '
        f"{quote_ident('window')} = {quote_literal(kind)} AND time = {start_ns}"
    )
    return list(_rows(ql.query(q)))


def plant_losses(ql: InfluxQL, run_id: str, kind: str, start_ns: int) -> list[dict[str, Any]]:
    """Return the plant's ``kpi_loss`` rows (reason, stop events, stop time) of one window."""
    q = (
        f'SELECT "reason", "stop_events", "stop_time_s" FROM "kpi_loss" WHERE {_run(run_id)} '
        f"AND {quote_ident('window')} = {quote_literal(kind)} AND \"level\" = 'plant' "
        f"AND time = {start_ns}"
    )
    return list(_rows(ql.query(q)))


def gateway_lag(ql: InfluxQL) -> dict[str, float]:
    """Return the newest end-to-end lag percentiles and buffered records of the gateways."""
    q = (
        'SELECT last("lag_ms_p50") AS "p50", last("lag_ms_p99") AS "p99" FROM "gateway_stats" '
        "WHERE \"source\" = 'gateway'"
    )
    rows = list(_rows(ql.query(q)))
    q2 = 'SELECT last("buffered") AS "buffered" FROM "gateway_stats" WHERE "source" = \'gateway\''
    rows2 = list(_rows(ql.query(q2)))
    out: dict[str, float] = {}
    if rows:
        out |= {k: float(rows[0][k]) for k in ("p50", "p99") if rows[0].get(k) is not None}
    if rows2 and rows2[0].get("buffered") is not None:
        out["buffered"] = float(rows2[0]["buffered"])
    return out


def snapshot(ql: InfluxQL, run_id: str | None = None, window: str = "shift") -> Snapshot:
    """Read everything ``twin top`` shows for ``run_id`` (default: the newest run)."""
    if run_id is None:
        run_id, newest = newest_run(ql)
    else:
        newest = latest_ms(ql, run_id)
    if run_id is None:
        return Snapshot(None, None, window, note="no run stored yet: is the plant running?")
    snap = Snapshot(run_id, newest, window)
    kinds = [window, *[k for k in WINDOW_KINDS if k != window]]
    start_ns = None
    for kind in kinds:
        start_ns = newest_window(ql, run_id, kind)
        if start_ns is not None:
            if kind != window:
                snap.note = (
                    f"no {window} KPIs for this run (no shift calendar?): showing the {kind}"
                )
            snap.window = kind
            break
    states = station_states(ql, run_id)
    points = kpi_points(ql, run_id, snap.window, start_ns) if start_ns is not None else []
    if start_ns is None:
        snap.note = "no KPIs stored yet: the analytics service writes them every cycle"
    _fill(snap, states, points, start_ns)
    place = flow_order(ql, run_id)
    snap.stations.sort(key=lambda s: (place.get((s.line, s.station), len(place)), s.station))
    if start_ns is not None:
        for row in plant_losses(ql, run_id, snap.window, start_ns):
            snap.losses.append(
                (row["reason"], int(row.get("stop_events") or 0), float(row["stop_time_s"] or 0))
            )
        snap.losses.sort(key=lambda x: -x[2])
    if snap.plant is not None and snap.plant.elements.pbt_s == 0 and snap.note is None:
        snap.note = f"no planned time in this {snap.window}: the plant is off shift, KPIs are —"
    snap.gateway = gateway_lag(ql)
    return snap


def _fill(
    snap: Snapshot,
    states: dict[tuple[str, str], dict[str, Any]],
    points: list[dict[str, Any]],
    start_ns: int | None,
) -> None:
    by_station = {(r["line"], r["scope"]): r for r in points if r.get("level") == "station"}
    snap.window_start_ms = None if start_ns is None else start_ns // 1_000_000
    for row in points:
        snap.t0_s = row.get("t0_s", snap.t0_s)
        snap.t1_s = row.get("t1_s", snap.t1_s)
        snap.shift = row.get("shift") or snap.shift
        if row.get("level") == "line":
            snap.lines.append(ScopeView(row["scope"], Elements.of(row), row))
        elif row.get("level") == "plant":
            snap.plant = ScopeView("plant", Elements.of(row), row)
    snap.lines.sort(key=lambda s: s.scope)
    for (line, station), state in sorted(states.items()):
        row = by_station.get((line, station), {})
        snap.stations.append(
            StationView(
                line,
                station,
                state["state"],
                state.get("reason"),
                int(state["time"]) // 1_000_000,
                Elements.of(row),
                row.get("throughput_uph"),
            )
        )
