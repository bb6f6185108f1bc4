"""The v2 write path (influxdb-client) into a real database, through a v2 -> v1 translation."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.buffer import DiskBuffer
from gateway.deadletter import DeadLetters, read_dead_letters
from gateway.stats import Stats
from gateway.writer import Writer
from plant_sim import payloads
from plant_sim.records import ScenarioEvent
from tests.gateway import helpers as h
from tests.gateway.v2_proxy import V2Proxy
from tests.servers.influxdb import InfluxServer
from tests.servers.mosquitto import Mosquitto
from twin_io.influx import InfluxV1Sink, InfluxV2Sink, Sink

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


def _write_one_batch(tmp_path: Path, sink: Sink, lines: list[str]) -> tuple[DiskBuffer, Stats]:
    """Buffer ``lines`` as one MQTT chunk and have a writer write it once through ``sink``."""
    buffer = DiskBuffer(tmp_path / "b.sqlite", 100)
    dead = DeadLetters(tmp_path / "dead.jsonl", 10**6)
    stats = Stats()
    buffer.append((0, "m" * len(lines), lines))
    writer = Writer(buffer, sink, stats, dead, 100, 0.1, (0.1, 1.0), lambda: None)
    try:
        assert writer._write(buffer.peek(100))
    finally:
        sink.close()
        dead.close()
    return buffer, stats


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
    lines = [f"m v={i}i {i}000000" for i in range(1, 10)]
    lines[4] = "m v=1.5 5000000"  # a float where the field is an integer: HTTP 400
    try:
        buffer, stats = _write_one_batch(tmp_path, sink, lines)
    finally:
        proxy.close()
    res = influxd.query('SELECT count("v") FROM "m"', influx_db)
    assert res["results"][0]["series"][0]["values"][0][1] == 8
    letters = read_dead_letters(tmp_path / "dead.jsonl")
    assert [d["payload"] for d in letters] == [lines[4]]
    assert "HTTP 400" in letters[0]["reason"] and len(buffer) == 0
    assert stats.snapshot()["gateway"]["rejected_by_influx"] == 1
    assert stats.snapshot()["mqtt"]["records_out"] == 8


def test_v2_422_and_413_split_the_batch_and_set_aside_only_the_refused_lines(
    tmp_path: Path, influxd: InfluxServer, influx_db: str
) -> None:
    # a 2.x front: points before 5 ms are outside retention (422, partial write), bodies over
    # 100 bytes are too large (413); one line is too large on its own
    proxy = V2Proxy(influxd.url, max_body_bytes=100, retention_start_ns=5_000_000)
    sink = InfluxV2Sink(proxy.url, "t", "o", influx_db)
    lines = [f"m v={i}i {(i + 5) * 1_000_000}" for i in range(12)]
    lines[2] = "m v=2i 1000000"  # outside retention: 422
    lines[7] = "m v=7i 2000000"  # outside retention: 422
    lines[9] = f'm s="{"x" * 200}" 13000000'  # alone over the body limit: 413
    try:
        buffer, stats = _write_one_batch(tmp_path, sink, lines)
    finally:
        proxy.close()
    assert proxy.refused.get(413) and proxy.refused.get(422)
    res = influxd.query('SELECT "v" FROM "m"', influx_db)
    stored = sorted(int(v[1]) for v in res["results"][0]["series"][0]["values"])
    assert stored == [0, 1, 3, 4, 5, 6, 8, 10, 11]
    assert "series" not in influxd.query('SELECT count("s") FROM "m"', influx_db)["results"][0]
    letters = {d["payload"]: d["reason"] for d in read_dead_letters(tmp_path / "dead.jsonl")}
    assert set(letters) == {lines[2], lines[7], lines[9]}
    assert "HTTP 422" in letters[lines[2]] and "retention" in letters[lines[2]]
    assert "HTTP 422" in letters[lines[7]]
    assert "HTTP 413" in letters[lines[9]] and "too large" in letters[lines[9]]
    assert len(buffer) == 0
    assert stats.snapshot()["gateway"]["rejected_by_influx"] == 3
    assert stats.snapshot()["mqtt"]["records_out"] == 9


def test_gateway_keeps_running_through_422_and_413(
    tmp_path: Path, influxd: InfluxServer, influx_db: str, broker: Mosquitto
) -> None:
    records = h.run_log(6.5 * 3600)
    run_id, start = h.envelope(records)
    n = len(records)
    # the first 300 records are outside retention (422); each refused line costs a bisection
    cutoff_ms = payloads.epoch_ms(start, records[300].t)
    old = [r for r in records if payloads.epoch_ms(start, r.t) < cutoff_ms]
    big = ScenarioEvent(t=records[2 * n // 3].t, name="x" * 40_000, event="test", phase="start")
    records.insert(2 * n // 3, big)  # its line alone is over the body limit: 413
    expected = [r for r in records if r is not big and payloads.epoch_ms(start, r.t) >= cutoff_ms]
    proxy = V2Proxy(influxd.url, max_body_bytes=32 * 1024, retention_start_ns=cutoff_ms * 10**6)
    cfg = h.settings(
        tmp_path,
        influxd,
        influx_db,
        mqtt_url=broker.url,
        influx_url=proxy.url,
        influx_token="t",
        influx_bucket=influx_db,
    )
    gw = h.start_gateway(cfg)
    letters_path = cfg.data_dir / "dead_letters.jsonl"
    try:
        assert isinstance(gw.sink, InfluxV2Sink)
        pub = h.connect_publisher(broker.port)
        h.publish(pub, records, run_id, start, qos=1)
        pub.disconnect()
        h.wait_stored(influxd, influx_db, len(expected))
        h.wait_until(
            lambda: letters_path.exists() and len(read_dead_letters(letters_path)) >= len(old) + 1,
            30,
            "the refused lines in the dead letters",
        )
        h.assert_same_records(expected, h.read_stored(influxd, influx_db, run_id))
        letters = read_dead_letters(letters_path)
        assert len(letters) == len(old) + 1
        too_large = [d for d in letters if "HTTP 413" in d["reason"]]
        assert len(too_large) == 1 and "x" * 1000 in too_large[0]["payload"]
        assert all(
            "HTTP 422" in d["reason"] and "retention" in d["reason"]
            for d in letters
            if d is not too_large[0]
        )
        assert gw.stats.snapshot()["gateway"]["rejected_by_influx"] == len(old) + 1
        assert gw.writer.is_alive() and gw.writer.error is None and gw.failure() is None
        assert proxy.refused.get(413) and proxy.refused.get(422)
        assert len(gw.buffer) < 100  # nothing held back (at most fresh metrics)
    finally:
        gw.stop()
        proxy.close()
