"""A scripted run for the alert and annotation tests: scenario events, a fault, a stopped feed.

plant_3lines from Monday 00:00 UTC with a demand surge, a supplier outage and a station
maintenance; at 08:00 ``a_weld1`` is made to fail for 20 minutes (its records in between are
replaced by one DOWN record, reason ``injected``); the feed stops at 11:00 (nothing later is
stored). Records become points as the backfill writes them, and KPI windows (with their
``kpi_slice`` minutes) are computed from the stored records, as the analytics service does.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from pydantic import TypeAdapter

from analytics.columns import to_columns
from analytics.service import InfluxConfig, LineWriter, make_sink
from analytics.service.backfill import LineEncoder, shifted
from analytics.service.compute import compute_windows
from analytics.service.kpi_schema import RunMeta
from analytics.service.windows import windows_between
from plant_sim.records import PartDone, Record, RunStart, ShiftChange, StateChange
from plant_sim.scenario import Scenario, ScenarioEventSpec, load_scenario
from plant_sim.simulation import Simulation
from plant_sim.states import StationState
from tests.servers.influxdb import InfluxServer
from tests.service.fixtures import SCENARIO

START_MS = 1_767_571_200_000  # Monday 2026-01-05 00:00 UTC
HOUR = 3600.0
FAULT_STATION = "a_weld1"
FAULT_AT = 8 * HOUR
FAULT_S = 20 * 60.0
STOP_AT = 11 * HOUR
RUN_ID = "faulty"


@dataclass
class FaultyRun:
    """The database and the records stored in it (after the fault, up to the stop)."""

    db: str
    records: list[Record]

    def ms(self, t: float) -> int:
        """Return simulation seconds as epoch ms."""
        return START_MS + round(t * 1000)


def scenario() -> Scenario:
    """Return plant_3lines with three scenario events inside the first 11 hours."""
    events = TypeAdapter(list[ScenarioEventSpec]).validate_python(
        [
            {"kind": "demand_surge", "at": "7h", "duration": "2h", "factor": 3.0},
            {"kind": "supplier_outage", "at": "6h", "duration": "3h", "supplier": "steelworks"},
            {"kind": "station_maintenance", "at": "9h", "duration": "30m", "station": "b_grind"},
        ]
    )
    base = load_scenario(SCENARIO).model_copy(update={"events": events})
    return shifted(base, START_MS)


def inject_failure(records: list[Record], station: str, t0: float, duration: float) -> list[Record]:
    """Return ``records`` with ``station`` down from ``t0`` for ``duration`` seconds."""
    t1 = t0 + duration
    mine = [r for r in records if isinstance(r, StateChange) and r.station == station]
    before = [r for r in mine if r.t <= t1]
    after_state = before[-1]  # the state it was in at t1 goes on from t1
    down = replace(mine[0], t=t0, state=StationState.DOWN, reason="injected")
    resume = replace(after_state, t=t1)
    out = [
        r
        for r in records
        if not (
            isinstance(r, StateChange | PartDone)
            and getattr(r, "station", None) == station
            and t0 <= r.t <= t1
        )
    ]
    out += [down, resume]
    return sorted(out, key=lambda r: r.t)  # stable: same-time records keep their order


def store_with_windows(
    influxd: InfluxServer, records: list[Record], run_id: str, start_ms: int, end_s: float
) -> str:
    """Store ``records`` (a run from its ``RunStart``, up to ``end_s``) in a fresh database as
    the backfill writes them, with the KPI windows and ``kpi_slice`` minutes the analytics
    service computes from them; return the database."""
    first = records[0]
    assert isinstance(first, RunStart)
    db = influxd.create_database()
    writer = LineWriter(make_sink(InfluxConfig(influxd.url, db)))
    writer.prepare()
    writer.write(LineEncoder(run_id, start_ms).lines(records))
    cols = to_columns(records)
    cols.end_s = end_s
    marks = [(start_ms + round(r.t * 1000), r.shift) for r in records if isinstance(r, ShiftChange)]
    end_ms = start_ms + round(end_s * 1000)
    meta = RunMeta(run_id, start_ms, first.site)
    results = compute_windows(cols, windows_between(start_ms, end_ms, marks), meta)
    writer.write([line for r in results for line in r.lines])
    writer.close()
    return db


def make_faulty_run(influxd: InfluxServer) -> FaultyRun:
    """Simulate, inject, stop the feed and store it all in a fresh database."""
    records: list[Record] = []
    sim = Simulation(scenario(), records.append, run_id=RUN_ID, start_epoch_ms=START_MS)
    sim.run(12 * HOUR)
    records = inject_failure(records, FAULT_STATION, FAULT_AT, FAULT_S)
    records = [r for r in records if r.t < STOP_AT]
    return FaultyRun(store_with_windows(influxd, records, RUN_ID, START_MS, STOP_AT), records)
