"""After a day of data stored at once (a run at high speed, an outage), every window gets its
KPIs, once (real InfluxDB)."""

from __future__ import annotations

from collections import Counter

import pytest

from analytics.service import AnalyticsService, InfluxConfig, InfluxQL, LineWriter, RunReader
from analytics.service.backfill import LineEncoder
from analytics.service.windows import HOUR_MS
from analytics.service.writer import make_sink
from plant_sim.records import RunStart
from tests.gateway import helpers as h
from tests.servers.influxdb import InfluxServer
from tests.service.helpers import compare, stored_kpis

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


def test_records_stored_after_run_end_count_in_the_final_kpis(
    influxd: InfluxServer, influx_db: str
) -> None:
    """``run_end`` stored before the run's last records, as a partitioned gateway can store
    them (each partition writes its batches on its own, one may be retrying): the service
    computes the last windows again when those records land, and the KPIs it leaves stored
    equal the event log's. It made them final on the first cycle that saw ``run_end``."""
    records = h.run_log(9 * 3600, seed=4)  # production from 06:00
    start, end = records[0], records[-1]
    assert isinstance(start, RunStart) and end.kind == "run_end"
    last = [r for r in records if r.kind in ("state", "part") and r.t > end.t - 1800]
    station = Counter(r.station for r in last).most_common(1)[0][0]  # type: ignore[attr-defined]
    late = [r for r in last if r.station == station]  # type: ignore[attr-defined]
    assert len(late) > 5
    late_ids = {id(r) for r in late}
    config = InfluxConfig(influxd.url, influx_db)
    encoder = LineEncoder(start.run_id, start.start_epoch_ms)
    store = LineWriter(make_sink(config))
    store.write(encoder.lines(r for r in records if id(r) not in late_ids))  # run_end too
    service = AnalyticsService(RunReader(InfluxQL(config)), LineWriter(make_sink(config)))
    assert service.cycle()  # every window, without the late records
    store.write(encoder.lines(late))  # the other partition's last batch lands
    cycles = [service.cycle() for _ in range(4)]
    assert cycles[0] and cycles[-1] == []  # computed again, then final
    compare(stored_kpis(influxd, influx_db), records, levels=("station", "line", "plant"), tol=1e-9)
