"""Fidelity: KPIs computed from what reached InfluxDB equal KPIs from the simulator's own log.

The real live plant (bottling line, 6.75 h from Monday 00:00, idle until the early shift at 06:00)
publishes over MQTT at 2400x; the real gateway stores it into a real InfluxDB; the analytics
service runs its cycles meanwhile and once more when the run is stored. Every ``kpi`` point of
every station and line (current and previous hour, the shift, the day) must equal the KPIs the
event log gives over the same window, to 0.1 percentage point.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from analytics.service import AnalyticsService, InfluxConfig, InfluxQL, LineWriter, RunReader
from analytics.service.writer import make_sink
from tests.gateway import helpers as h
from tests.gateway.live_plant import LivePlant
from tests.servers.influxdb import InfluxServer
from tests.servers.mosquitto import Mosquitto
from tests.service.helpers import compare, stored_kpis

pytestmark = pytest.mark.integration


def test_service_kpis_equal_event_log_kpis(
    tmp_path: Path,
    influxd: InfluxServer,
    influx_db: str,
    mosquitto_factory: Callable[..., Mosquitto],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="analytics")
    broker = mosquitto_factory(extra_conf=h.BROKER_CONF)
    plant = LivePlant(None, broker.url, until_s=6.75 * 3600, speed=2400, seed=11)
    plant.serve()
    gateway = h.start_gateway(h.settings(tmp_path, influxd, influx_db, mqtt_url=broker.url))
    config = InfluxConfig(influxd.url, influx_db)
    service = AnalyticsService(
        RunReader(InfluxQL(config)), LineWriter(make_sink(config)), settle_s=3600
    )
    stop = threading.Event()
    live = threading.Thread(target=service.run_forever, args=(3.0, stop), daemon=True)
    try:
        plant.run()
        live.start()
        plant.wait(120)
        truth = plant.truth
        h.wait_stored(influxd, influx_db, len(truth), timeout_s=60)
        stop.set()
        live.join(30)
        assert not live.is_alive(), "the live service did not stop"
        service.cycle()  # the windows not final yet, from every record now stored
    finally:
        stop.set()
        gateway.stop()
    failed = [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("analytics") and r.levelno >= logging.ERROR
    ]
    assert not failed, failed  # a live cycle that could not read what the gateway stored
    stored = stored_kpis(influxd, influx_db)
    windows = Counter(k[3] for k in stored if k[1] == "line")
    assert {k[0] for k in stored} == {truth[0].run_id}
    assert windows["hour"] >= 2 and windows["shift"] == 1 and windows["day"] == 1
    assert_spans_follow_the_windows(stored, truth)
    assert compare(stored, truth, levels=("station", "line"), tol=0.001) > 500


def assert_spans_follow_the_windows(stored: dict, truth: list) -> None:
    """Each point's span comes from its own window and time stamp, clipped to the run: the
    stored t0_s/t1_s the comparison uses are checked independently of the service."""
    end_s = truth[-1].t
    changes = sorted(r.t for r in truth if r.kind == "shift")
    start_ms = truth[0].start_epoch_ms
    for (_run, _level, _scope, window, at_ms), row in stored.items():
        t0 = (at_ms - start_ms) / 1000.0
        length = {"hour": 3600.0, "day": 86400.0}.get(window)
        nominal_end = (
            t0 + length if length is not None else next((t for t in changes if t > t0), end_s)
        )
        want = (max(t0, 0.0), min(nominal_end, end_s))
        got = (float(row["t0_s"]), float(row["t1_s"]))
        assert got == pytest.approx(want, abs=1e-3), (window, at_ms, got, want)
