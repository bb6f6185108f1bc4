"""The v2 write path (influxdb-client) into a real database, through a v2 -> v1 translation."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.buffer import DiskBuffer
from gateway.deadletter import DeadLetters, read_dead_letters
from gateway.sinks.influx_v1 import InfluxV1Sink
from gateway.sinks.influx_v2 import InfluxV2Sink
from gateway.stats import Stats
from gateway.writer import Writer
from tests.gateway import helpers as h
from tests.gateway.v2_proxy import V2Proxy
from tests.servers.influxdb import InfluxServer
from tests.servers.mosquitto import Mosquitto

pytestmark = pytest.mark.integration


def test_v2_write_path_auto_detected(
    tmp_path: Path, influxd: InfluxServer, influx_db: str, broker: Mosquitto
) -> None:
    proxy = V2Proxy(influxd.url)
    records = h.run_log(4 * 3600)
    run_id, start = h.envelope(records)
    cfg = h.settings(
        tmp_path,
        influxd,
        influx_db,
        mqtt_url=broker.url,
        influx_url=proxy.url,
        influx_token="writer:secret",
        influx_org="acme",
        influx_bucket=influx_db,
    )
    gw = h.start_gateway(cfg)
    try:
        assert isinstance(gw.sink, InfluxV2Sink)
        pub = h.connect_publisher(broker.port)
        h.publish(pub, records, run_id, start)
        pub.disconnect()
        h.wait_stored(influxd, influx_db, len(records))
        h.assert_same_records(records, h.read_stored(influxd, influx_db, run_id))
    finally:
        gw.stop()
        proxy.close()
    req = proxy.requests[0]
    assert req["query"] == {"org": "acme", "bucket": influx_db, "precision": "ns"}
    assert req["headers"]["Authorization"] == "Token writer:secret"


@pytest.mark.parametrize("api", ["v1", "v2"])
def test_lines_influx_refuses_are_set_aside_and_the_rest_written(
    tmp_path: Path, influxd: InfluxServer, influx_db: str, api: str
) -> None:
    proxy = V2Proxy(influxd.url)
    sink = (
        InfluxV2Sink(proxy.url, "t", "o", influx_db)
        if api == "v2"
        else InfluxV1Sink(influxd.url, influx_db)
    )
    buffer = DiskBuffer(tmp_path / "b.sqlite", 100)
    dead = DeadLetters(tmp_path / "dead.jsonl", 10**6)
    stats = Stats()
    lines = [f"m v={i}i {i}000000" for i in range(1, 10)]
    lines[4] = "m v=1.5 5000000"  # a float where the field is an integer: HTTP 400
    buffer.append((0, "m" * len(lines), lines))
    writer = Writer(buffer, sink, stats, dead, 100, 0.1, (0.1, 1.0), lambda: None)
    try:
        assert writer._write(buffer.peek(100))
    finally:
        sink.close()
        proxy.close()
        dead.close()
    res = influxd.query('SELECT count("v") FROM "m"', influx_db)
    assert res["results"][0]["series"][0]["values"][0][1] == 8
    letters = read_dead_letters(tmp_path / "dead.jsonl")
    assert [d["payload"] for d in letters] == [lines[4]]
    assert "HTTP 400" in letters[0]["reason"] and len(buffer) == 0
    assert stats.snapshot()["gateway"]["rejected_by_influx"] == 1
    assert stats.snapshot()["mqtt"]["records_out"] == 8
