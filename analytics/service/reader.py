"""Read a run's records back from InfluxDB with InfluxQL: its runs, its clock, a span of records.

``read_span(run, from_ms)`` returns what the KPI engine needs for every window that starts at
or after ``from_ms``: the records from then on, the run's shift and order history, and the
carry-in (``analytics.service.carry``) built from a few small queries: each station's last
state before ``from_ms``, each material's last stock level, the scrap/rework judgements and
the counts of releases and exits per line before it. ``gateway_points`` reads the gateways'
newest ``gateway_stats`` points, for the windows of ended runs (``service``). The schema
(measurements, tags, fields, decoding) is ``plant_sim.telemetry_schema``'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from operator import attrgetter

from analytics.service.carry import CarryState
from analytics.service.kpi_schema import RunMeta
from plant_sim.records import Record, RunStart, ShiftChange
from plant_sim.telemetry_schema import (
    METRICS_MEASUREMENT,
    SCHEMAS,
    SOURCE_FIELD,
    StoredRecord,
    quote_ident,
    quote_literal,
    record_from_row,
    select_statement,
)
from twin_io.influx import InfluxQL

_CLOCK_KINDS = ("state", "part", "run_end")
_SPAN_KINDS = ("state", "part", "release", "exit", "stock", "run_end")
_WHOLE_RUN_KINDS = ("shift", "order")


@dataclass(frozen=True, slots=True)
class RunClock:
    """A stored run: identity, clock origin, site and the time of its latest record."""

    meta: RunMeta
    latest_ms: int
    run_start: RunStart
    ended: bool
    end_source: str | None = None
    """The ``source`` field of the stored ``run_end`` (``mqtt``, ``backfill``...), if any."""


@dataclass(frozen=True, slots=True)
class GatewayPoint:
    """A gateway's newest ``gateway_stats`` point: when the gateway made it (its clock) and
    how many lines its buffer held then."""

    time_ms: int
    buffered: int


def _m(kind: str) -> str:
    return quote_ident(SCHEMAS[kind].measurement)


def _run(run_id: str) -> str:
    return f"{quote_ident('run_id')} = {quote_literal(run_id)}"


class RunReader:
    """Reads runs back from one InfluxDB database."""

    def __init__(self, ql: InfluxQL) -> None:
        self.ql = ql

    def latest_by_run(self) -> dict[str, int]:
        """Return the epoch ms of each run's latest state, part or end record."""
        froms = ",".join(_m(k) for k in _CLOCK_KINDS)
        out: dict[str, int] = {}
        for _, row in self.ql.rows(f'SELECT last("t") FROM {froms} GROUP BY "run_id"'):
            ms = int(row["time"]) // 1_000_000
            out[row["run_id"]] = max(ms, out.get(row["run_id"], 0))
        return out

    def ended_runs(self) -> set[str]:
        """Return the ids of the runs whose ``run_end`` is stored."""
        q = f'SELECT count("t") FROM {_m("run_end")} GROUP BY "run_id"'
        return {row["run_id"] for _, row in self.ql.rows(q)}

    def run_starts(self) -> dict[str, RunStart]:
        """Return the stored ``run_start`` of every run."""
        return {
            r.run_id: r
            for r in self.records(select_statement("run_start"))
            if isinstance(r, RunStart)
        }

    def stored(self, statement: str) -> list[StoredRecord]:
        """Return the records a ``SELECT *`` statement finds, ordered by time and seq."""
        out = [record_from_row(m, row) for m, row in self.ql.rows(statement)]
        out.sort(key=attrgetter("order"))
        return out

    def records(self, statement: str) -> list[Record]:
        """Return the records (without envelope) a ``SELECT *`` statement finds, by time."""
        return [s.record for s in self.stored(statement)]

    def clock(self, run_id: str, latest_ms: int) -> RunClock | None:
        """Return the stored run's clock, or None when its ``run_start`` is not stored."""
        starts = self.records(select_statement("run_start", run_id))
        if not starts or not isinstance(starts[0], RunStart):
            return None
        rs = starts[0]
        q = f"SELECT * FROM {_m('run_end')} WHERE {_run(run_id)} LIMIT 1"
        end = next((row for _, row in self.ql.rows(q)), None)
        meta = RunMeta(run_id, rs.start_epoch_ms, rs.site)
        source = None if end is None else end.get(SOURCE_FIELD)
        return RunClock(meta, latest_ms, rs, end is not None, source)

    def gateway_points(self, within_ms: int) -> dict[str, GatewayPoint]:
        """Return each gateway's newest ``gateway_stats`` point (the global one, source
        ``gateway``) made in the last ``within_ms`` (InfluxDB's clock), by gateway name."""
        q = (
            f'SELECT last("buffered") AS "buffered" FROM {quote_ident(METRICS_MEASUREMENT)} '
            f"WHERE \"source\" = 'gateway' AND time > now() - {int(within_ms)}ms "
            'GROUP BY "gateway"'
        )
        return {
            row["gateway"]: GatewayPoint(int(row["time"]) // 1_000_000, int(row["buffered"] or 0))
            for _, row in self.ql.rows(q)
        }

    def shift_changes(self, run_id: str) -> list[ShiftChange]:
        """Return every shift change of the run, in time order."""
        return [
            r for r in self.records(select_statement("shift", run_id)) if isinstance(r, ShiftChange)
        ]

    def read_span(self, run: RunClock, from_ms: int, to_ms: int | None = None) -> list[Record]:
        """Return carry-in plus every record from ``from_ms`` on (before ``to_ms`` if given)."""
        rid = run.meta.run_id
        from_ns = max(from_ms, 0) * 1_000_000
        upto = "" if to_ms is None else f" AND time < {to_ms * 1_000_000}"
        carry = self._carry(rid, from_ns)
        carry.run_start = run.run_start
        t_from = (from_ms - run.meta.start_epoch_ms) / 1000.0
        out = carry.records(t_from)
        for kind in _WHOLE_RUN_KINDS:
            out += self.records(select_statement(kind, rid))
        for kind in _SPAN_KINDS:
            out += self.records(f"{select_statement(kind, rid)} AND time >= {from_ns}{upto}")
        return out

    def _carry(self, rid: str, from_ns: int) -> CarryState:
        carry = CarryState()
        before = f"{_run(rid)} AND time < {from_ns}"
        last = "GROUP BY {} ORDER BY time DESC LIMIT 1"
        carry.feed(
            self.records(f"SELECT * FROM {_m('state')} WHERE {before} " + last.format('"station"'))
        )
        carry.feed(
            self.records(f"SELECT * FROM {_m('stock')} WHERE {before} " + last.format('"material"'))
        )
        carry.feed(
            self.records(
                f"SELECT * FROM {_m('part')} WHERE {before} "
                """AND "result" <> 'good'"""
            )
        )
        for kind, sign in (("release", 1), ("exit", -1)):
            q = f'SELECT count("t") FROM {_m(kind)} WHERE {before} GROUP BY "line"'
            for _, row in self.ql.rows(q):
                carry.wip[row["line"]] = carry.wip.get(row["line"], 0) + sign * int(row["count"])
        return carry
