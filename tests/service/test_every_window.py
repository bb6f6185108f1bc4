"""After a day of data stored at once (a run at high speed, an outage), every window gets its
KPIs, once (real InfluxDB)."""

from __future__ import annotations

import pytest

from analytics.service import AnalyticsService, InfluxConfig, InfluxQL, LineWriter, RunReader
from analytics.service.backfill import LineEncoder
from analytics.service.windows import HOUR_MS
from analytics.service.writer import make_sink
from plant_sim.records import RunStart
from tests.gateway import helpers as h
from tests.servers.influxdb import InfluxServer

pytestmark = pytest.mark.integration


def _kpi_times(influx: InfluxServer, db: str, window: str) -> list[int]:
    res = influx.query(
        f'SELECT * FROM "kpi" WHERE "window" = \'{window}\' AND "scope" = \'plant\'', db
    )
    series = res["results"][0].get("series") or []
    return [int(v[0]) // 1_000_000 for s in series for v in s["values"]]


def test_a_day_stored_at_once_gets_every_hourly_window(
    influxd: InfluxServer, influx_db: str
) -> None:
    records = h.run_log(86_400, seed=5)
    start = records[0]
    assert isinstance(start, RunStart)
    config = InfluxConfig(influxd.url, influx_db)
    LineWriter(make_sink(config)).write(
        LineEncoder(start.run_id, start.start_epoch_ms).lines(records)
    )
    service = AnalyticsService(RunReader(InfluxQL(config)), LineWriter(make_sink(config)))
    first = service.cycle()
    t0 = start.start_epoch_ms
    assert _kpi_times(influxd, influx_db, "hour") == [t0 + k * HOUR_MS for k in range(24)]
    assert _kpi_times(influxd, influx_db, "day") == [t0]
    assert len(_kpi_times(influxd, influx_db, "shift")) >= 2
    assert len(first[0].windows) == len(set(first[0].windows))
    again = service.cycle()[0]  # the run ended: its last windows once more (records all in?)
    assert [w.start_ms for w in again.windows if w.kind == "hour"] == [t0 + 23 * HOUR_MS]
    assert service.cycle() == []  # the same records twice: every window is final
