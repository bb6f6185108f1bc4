"""A backfilled database shared by the service and dashboard tests (made once per session)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from analytics.service.backfill import BackfillResult, backfill, shifted
from analytics.service.writer import LineWriter, make_sink
from plant_sim.records import Record
from plant_sim.scenario import load_scenario
from plant_sim.simulation import Simulation
from tests.servers.influxdb import InfluxServer
from twin_io.influx import InfluxConfig

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "scenarios" / "plant_3lines.yaml"
END = "2026-01-06T05:30:00+00:00"
DAYS = 1.0


@dataclass
class Backfilled:
    """The database, the backfill's result and the records it simulated."""

    db: str
    config: InfluxConfig
    result: BackfillResult
    truth: list[Record]


_made: dict[str, Backfilled] = {}


def backfilled_db(influxd: InfluxServer) -> Backfilled:
    """Return the session's backfilled database (plant_3lines, 29.5 h), making it once."""
    if influxd.url in _made:
        return _made[influxd.url]
    db = influxd.create_database()
    config = InfluxConfig(influxd.url, db)
    writer = LineWriter(make_sink(config))
    writer.prepare()
    end_ms = int(datetime.fromisoformat(END).timestamp() * 1000)
    scenario = load_scenario(SCENARIO)
    result = backfill(scenario, end_ms, DAYS, writer.write)
    writer.close()
    truth: list[Record] = []
    sim = Simulation(
        shifted(scenario, result.start_ms),
        truth.append,
        run_id=result.run_id,
        start_epoch_ms=result.start_ms,
    )
    sim.run((result.end_ms - result.start_ms) / 1000)
    sim.finish()
    _made[influxd.url] = Backfilled(db, config, result, truth)
    return _made[influxd.url]
