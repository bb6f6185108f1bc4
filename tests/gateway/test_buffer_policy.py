"""A full disk buffer: drop the oldest (counted) or block the sources (nothing lost)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.buffer import SOURCE_CODES, DiskBuffer
from gateway.writer import METRICS_SOURCE
from tests.gateway import helpers as h
from tests.servers.influxdb import InfluxServer
from tests.servers.mosquitto import Mosquitto

pytestmark = pytest.mark.integration
CAPACITY = 500


@pytest.mark.parametrize("policy", ["drop_oldest", "block"])
def test_full_buffer_policy(
    tmp_path: Path,
    influxd_factory: Callable[[], InfluxServer],
    broker: Mosquitto,
    policy: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    influx = influxd_factory()
    db = influx.create_database("twin")
    records = h.run_log(4 * 3600)[:2000]
    run_id, start = h.envelope(records)
    cfg = h.settings(
        tmp_path,
        influx,
        db,
        mqtt_url=broker.url,
        buffer_max_records=CAPACITY,
        buffer_full_policy=policy,
        # block: metrics every 0.2 s must not displace data; drop_oldest: none, so the drops
        # counted and the records kept are exactly the data's
        metrics_interval_s=600 if policy == "drop_oldest" else 0.2,
        batch_size=200,
    )
    gw = h.start_gateway(cfg)
    pub = h.connect_publisher(broker.port)
    try:
        influx.kill()
        h.publish(pub, records, run_id, start, qos=1)
        snap = gw.stats.snapshot
        if policy == "drop_oldest":
            h.wait_until(lambda: snap()["mqtt"]["records_in"] == len(records), 20, "all taken in")
            # a batch is counted in before the buffer drops the oldest rows to make room for it
            dropping = len(records) - CAPACITY
            h.wait_until(lambda: snap()["gateway"]["dropped"] >= dropping, 5, "the last drops")
            assert snap()["gateway"]["dropped"] == dropping
        else:
            # ingest takes no more than fits: the buffer fills to its bound, then the sources
            # wait; metrics points keep one batch of room free for data, else are left out
            h.wait_until(lambda: len(gw.buffer) == CAPACITY, 20, "a full buffer")
            left_out = "gateway_stats points are not stored"
            h.wait_until(lambda: left_out in caplog.text, 5, "metrics left out of a full buffer")
            assert snap()["mqtt"]["records_in"] < len(records)  # the sources wait
            assert snap()["gateway"]["dropped"] == 0
        assert len(gw.buffer) <= CAPACITY
        influx.restart()
        expected = records[-CAPACITY:] if policy == "drop_oldest" else records
        h.wait_stored(influx, db, len(expected))
        # no record left behind; with metrics every 0.2 s the newest points may still be there
        h.wait_until(lambda: _records_buffered(gw.buffer) == 0, 20, "no record buffered")
        if policy == "drop_oldest":
            assert len(gw.buffer) == 0
        h.assert_same_records(expected, h.read_stored(influx, db, run_id))
    finally:
        pub.disconnect()
        gw.stop()


def _records_buffered(buffer: DiskBuffer) -> int:
    """Buffered lines that are records, not the gateway's own metrics points."""
    metrics = SOURCE_CODES[METRICS_SOURCE]
    return sum(len(c.sources) - c.sources.count(metrics) for c in buffer.peek(10**6))
