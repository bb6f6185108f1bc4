"""A simulator's log published over MQTT arrives in InfluxDB exactly once, in count and content."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.gateway import helpers as h
from tests.servers.influxdb import InfluxServer
from tests.servers.mosquitto import Mosquitto

pytestmark = pytest.mark.integration


def test_batch_log_over_mqtt_exactly_once(
    tmp_path: Path, influxd: InfluxServer, influx_db: str, broker: Mosquitto
) -> None:
    records = h.run_log(6 * 3600)
    run_id, start = h.envelope(records)
    gw = h.start_gateway(h.settings(tmp_path, influxd, influx_db, mqtt_url=broker.url))
    try:
        assert gw.sources[0].subscribed.is_set(), "start() returns once the broker subscribed"
        pub = h.connect_publisher(broker.port)
        h.publish(pub, records, run_id, start)
        h.wait_stored(influxd, influx_db, len(records))
        h.assert_same_records(records, h.read_stored(influxd, influx_db, run_id))
        snap = gw.stats.snapshot()
        assert snap["mqtt"]["records_in"] == len(records)
        assert snap["mqtt"]["dead_lettered"] == 0
        pub.disconnect()
    finally:
        gw.stop()
    res = influxd.query('SELECT * FROM "gateway_stats" WHERE "source" = \'mqtt\'', influx_db)
    assert res["results"][0]["series"][0]["values"], "the gateway's own metrics are stored"


def test_start_waits_for_the_subscription_new_or_kept_by_the_session(
    tmp_path: Path, influxd: InfluxServer, influx_db: str, broker: Mosquitto
) -> None:
    """A new session subscribes before start() returns; a kept one counts as subscribed."""
    cfg = h.settings(tmp_path, influxd, influx_db, mqtt_url=broker.url)
    for session in ("new", "kept"):
        gw = h.start_gateway(cfg)
        try:
            source = gw.sources[0]
            assert source.connected.is_set() and source.subscribed.is_set(), session
        finally:
            gw.stop()
        assert not source.subscribed.is_set(), "a closed connection is no longer subscribed"


def test_stop_stores_the_final_counters(
    tmp_path: Path, influxd: InfluxServer, influx_db: str, broker: Mosquitto
) -> None:
    """The counters at stop are stored, even for a run shorter than one metrics period."""
    records = h.run_log(2 * 3600)
    run_id, start = h.envelope(records)
    cfg = h.settings(tmp_path, influxd, influx_db, mqtt_url=broker.url, metrics_interval_s=600)
    gw = h.start_gateway(cfg)
    try:
        pub = h.connect_publisher(broker.port)
        h.publish(pub, records, run_id, start)
        h.wait_stored(influxd, influx_db, len(records))
        pub.disconnect()
    finally:
        gw.stop()
    res = influxd.query(
        'SELECT "records_in", "records_out" FROM "gateway_stats" WHERE "source" = \'mqtt\'',
        influx_db,
    )
    series = res["results"][0].get("series")
    assert series, "the final counters are stored at stop"
    assert [row[1:] for row in series[0]["values"]] == [[len(records), len(records)]]
