"""A record's identity is the producer's record number ``n``: stored once, with no memory needed.

Against the real Mosquitto and InfluxDB: a QoS 1 resend that reaches the gateway as a new
message (as after a broker restart) overwrites its own point; a record in a series the
sequencer has long forgotten gets its own point; the live twin's records over both sources,
with a broker restart mid-run and default settings, are each stored exactly once.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from gateway.app import Gateway
from gateway.record_numbers import MAX_RUNS, WINDOW, RecentNumbers, identity_seq
from gateway.settings import GatewaySettings
from plant_sim.records import OrderEvent, Record, StateChange
from tests.gateway import helpers as h
from tests.gateway.live_plant import LivePlant
from tests.servers.influxdb import InfluxServer, free_port
from tests.servers.mosquitto import Mosquitto

pytestmark = pytest.mark.integration


def test_a_resend_that_arrives_as_a_new_message_is_stored_once(
    tmp_path: Path, influxd: InfluxServer, influx_db: str, broker: Mosquitto
) -> None:
    records = h.run_log(6 * 3600, seed=5)
    run_id, start = h.envelope(records)
    gw = h.start_gateway(h.settings(tmp_path, influxd, influx_db, mqtt_url=broker.url))
    pub = h.connect_publisher(broker.port)
    try:
        h.publish(pub, records, run_id, start, qos=1, first_n=0)
        # the same payloads again, unflagged (a resend the broker forwards as a new message)
        again = records[500:1500]
        h.publish(pub, again, run_id, start, qos=1, first_n=500)
        h.wait_until(
            lambda: gw.stats.snapshot()["mqtt"]["records_in"] == len(records) + len(again),
            60,
            "every message at the gateway",
        )
        h.wait_stored(influxd, influx_db, len(records))
        h.assert_same_records(records, h.read_stored(influxd, influx_db, run_id))
        assert h.stored_numbers(influxd, influx_db, run_id) == list(range(len(records)))
        h.wait_until(lambda: len(gw.buffer) == 0, 30, "an empty buffer")
        assert gw.stats.snapshot()["mqtt"]["duplicates"] == len(again)
    finally:
        pub.disconnect()
        gw.stop()


def test_uniqueness_does_not_depend_on_the_sequencers_memory(
    tmp_path: Path, influxd: InfluxServer, influx_db: str, broker: Mosquitto
) -> None:
    """Record A, 10,050 other series, record B in A's series and millisecond: 2 points."""
    records = h.run_log(600)
    run_id, start = h.envelope(records)
    a = next(r for r in records if isinstance(r, StateChange))
    b = dataclasses.replace(a, power_kw=a.power_kw + 1.0)
    others: list[Record] = [
        OrderEvent(a.t + 1.0, f"o{i}", f"product-{i}", 1, 3600.0, "created") for i in range(10_050)
    ]
    sent = [records[0], a, *others, b]
    gw = h.start_gateway(h.settings(tmp_path, influxd, influx_db, mqtt_url=broker.url))
    pub = h.connect_publisher(broker.port)
    try:
        h.publish(pub, sent, run_id, start, qos=1, first_n=0)
        h.wait_stored(influxd, influx_db, len(sent))
        rows = influxd.query(
            f'SELECT "power_kw" FROM "machine_state" WHERE "station" = \'{a.station}\'', influx_db
        )["results"][0]["series"][0]["values"]
        assert [v[1] for v in rows] == [a.power_kw, b.power_kw]
        assert len(gw.ingest.sequencer) == 0  # type: ignore[union-attr]
        assert h.stored_numbers(influxd, influx_db, run_id) == list(range(len(sent)))
    finally:
        pub.disconnect()
        gw.stop()


def test_both_sources_and_a_broker_restart_store_each_record_once(
    tmp_path: Path, influxd: InfluxServer, influx_db: str, broker: Mosquitto
) -> None:
    """The live twin over MQTT and OPC UA, the broker restarted mid-run, default settings."""
    plant = LivePlant(free_port(), broker.url, until_s=6 * 3600, speed=1000)
    plant.serve()
    gw = _gateway_beside_opcua(tmp_path, influxd, influx_db, broker, plant)
    try:
        plant.run()
        h.wait_until(lambda: h.count_stored(influxd, influx_db) > 500, 60, "records flowing")
        broker.stop()  # messages in flight both ways; QoS 1 ones are resent after the restart
        broker.start()
        plant.wait(180)
        _assert_every_record_stored_once(plant.truth, gw, influxd, influx_db)
        snap = gw.stats.snapshot()  # both sources delivered, the second copies were skipped
        assert snap["mqtt"]["records_in"] > 0 and snap["opcua"]["records_in"] > 0
        assert snap["mqtt"]["duplicates"] + snap["opcua"]["duplicates"] > 0
    finally:
        gw.stop()


def _gateway_beside_opcua(
    tmp_path: Path,
    influxd: InfluxServer,
    influx_db: str,
    broker: Mosquitto,
    plant: LivePlant,
    **mqtt: str,
) -> Gateway:
    """Start a gateway with the MQTT source (``mqtt``: its format settings) and the plant's
    OPC UA source, every other setting at its default; return once OPC UA is subscribed."""
    cfg = GatewaySettings(
        influx_url=influxd.url,
        influx_database=influx_db,
        data_dir=tmp_path / "gw",
        mqtt_url=broker.url,
        opcua_endpoint=plant.opcua_endpoint,
        **mqtt,
    )
    gw = h.start_gateway(cfg)
    try:
        h.wait_until(gw.sources[1].subscribed.is_set, 30, "the OPC UA subscription")
    except BaseException:
        gw.stop()
        raise
    return gw


def _assert_every_record_stored_once(
    truth: list[Record], gw: Gateway, influxd: InfluxServer, influx_db: str
) -> None:
    """Wait for the live twin's records to land, then check each is stored once, in order."""
    run_id = truth[0].run_id  # type: ignore[attr-defined]
    h.wait_stored(influxd, influx_db, len(truth), timeout_s=120)
    h.wait_until(lambda: len(gw.buffer) == 0, 30, "an empty buffer")
    stored = h.read_stored(influxd, influx_db, run_id)
    assert h.stored_numbers(influxd, influx_db, run_id) == list(range(len(truth)))
    h.assert_same_records(truth, stored)


def test_recent_numbers_are_bounded() -> None:
    recent = RecentNumbers()
    assert not recent.seen("r", 5) and recent.seen("r", 5)
    assert not recent.seen("r", 5 + 3 * WINDOW)  # slides: far ahead is new
    assert not recent.seen("r", 5)  # forgotten below the window: written again, harmlessly
    for i in range(MAX_RUNS * 3):
        recent.seen(f"run-{i}", 0)
    assert len(recent) == MAX_RUNS
    kept = sum(len(w.bits) for w in recent._runs.values())
    assert kept == MAX_RUNS * WINDOW // 8
    assert identity_seq(1_000_007) == 7


def test_sparkplug_and_opcua_sources_together_store_each_record_once(
    tmp_path: Path, influxd: InfluxServer, influx_db: str, broker: Mosquitto
) -> None:
    """The gateway as Sparkplug host application beside the OPC UA source (a mix the docs
    allow): every record of the live twin stored once, both sources delivering."""
    plant = LivePlant(
        free_port(),
        broker.url,
        until_s=3 * 3600,
        speed=1000,
        mqtt_format="sparkplug",
        sparkplug_primary_host="twin-gateway",  # births wait for the host: no record missed
    )
    plant.serve()
    gw = _gateway_beside_opcua(
        tmp_path,
        influxd,
        influx_db,
        broker,
        plant,
        mqtt_format="sparkplug",
        sparkplug_host_id="twin-gateway",
    )
    try:
        plant.run()
        plant.wait(180)
        _assert_every_record_stored_once(plant.truth, gw, influxd, influx_db)
        snap = gw.stats.snapshot()
        assert snap["opcua"]["records_in"] > 0
        others = [c["records_in"] for src, c in snap.items() if src not in ("opcua", "gateway")]
        assert sum(others) > 0, snap  # the Sparkplug host delivered too
    finally:
        gw.stop()
