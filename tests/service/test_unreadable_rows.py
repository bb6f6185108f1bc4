"""A stored row the service cannot read: a warning while it may still be being written, an
error when it stays unreadable. InfluxDB 1.x makes a point's fields visible one by one
(influxdb#8546), so a live cycle can read a point that lacks a field for a moment."""

from __future__ import annotations

import logging
import re
import threading

import pytest

from analytics.service import AnalyticsService, InfluxConfig, InfluxQL, LineWriter, RunReader
from analytics.service.backfill import LineEncoder
from analytics.service.writer import make_sink
from plant_sim.records import RunEnd, RunStart, StateChange
from tests.gateway import helpers as h
from tests.servers.influxdb import InfluxServer

pytestmark = pytest.mark.integration
SKIPPED = "cycle skipped"


def test_a_row_without_its_state_warns_then_errors_if_it_stays(
    influxd: InfluxServer, influx_db: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="analytics")
    records = [r for r in h.run_log(8 * 3600, seed=5) if not isinstance(r, RunEnd)]
    start = records[0]
    assert isinstance(start, RunStart)
    config = InfluxConfig(influxd.url, influx_db)
    writer = LineWriter(make_sink(config))
    lines = LineEncoder(start.run_id, start.start_epoch_ms).lines(records)
    writer.write(lines)
    last_state = max(
        (i for i, r in enumerate(records) if isinstance(r, StateChange)), key=lambda i: records[i].t
    )
    complete = lines[last_state]
    series, fields, ts = complete.rsplit(" ", 2)
    without_state = re.sub(r'(^|,)state="[^"]*"', "", fields).lstrip(",")
    assert 'state="' in fields and 'state="' not in without_state and "state_num" in without_state
    at = int(ts) + 500_000  # a new point in the same series and millisecond
    partial = f"{series} {without_state} {at}"
    writer.write([partial])  # a point whose state field is not visible yet

    service = AnalyticsService(
        RunReader(InfluxQL(config)), LineWriter(make_sink(config)), settle_s=3600
    )

    def skipped(level: int) -> list[str]:
        return [
            r.getMessage()
            for r in caplog.records
            if r.levelno == level and SKIPPED in r.getMessage()
        ]

    # one cycle at a time (as run_forever runs them), so the order does not depend on timing
    assert service.guarded_cycle() == []
    assert len(skipped(logging.WARNING)) == 1 and not skipped(logging.ERROR)
    writer.write([f"{series} {fields} {at}"])  # its state field becomes visible
    assert service.guarded_cycle()
    assert _kpi_points(influxd, influx_db) > 0
    assert not skipped(logging.ERROR), "a point completed by the next cycle is no error"
    station = re.search(r"station=([^,]+)", series)
    assert station and station.group(1) in skipped(logging.WARNING)[0]

    writer.write([f"{series} {without_state} {at + 200_000}"])  # this one stays so
    assert service.guarded_cycle() == []
    assert len(skipped(logging.WARNING)) == 2 and not skipped(logging.ERROR)
    assert service.guarded_cycle() == []
    assert len(skipped(logging.ERROR)) == 1
    assert "machine_state.state" in skipped(logging.ERROR)[0]


def test_run_forever_runs_guarded_cycles_until_stopped(
    influxd: InfluxServer, influx_db: str
) -> None:
    config = InfluxConfig(influxd.url, influx_db)
    service = AnalyticsService(RunReader(InfluxQL(config)), LineWriter(make_sink(config)))
    stop = threading.Event()
    cycles: list[int] = []

    def counted(retry_s: float = 0.0) -> list:
        cycles.append(1)
        if len(cycles) == 2:
            stop.set()
        return []

    service.guarded_cycle = counted  # type: ignore[method-assign]
    live = threading.Thread(target=service.run_forever, args=(0.01, stop), daemon=True)
    live.start()
    live.join(30)
    assert not live.is_alive() and len(cycles) == 2


def _kpi_points(influx: InfluxServer, db: str) -> int:
    res = influx.query('SELECT count("oee") FROM "kpi"', db)
    series = res["results"][0].get("series")
    return int(series[0]["values"][0][1]) if series else 0
