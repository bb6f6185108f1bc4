"""Faults: InfluxDB killed and restarted, broker restarted, OPC UA server restarted, gateway killed.

In every case the stored data equals the simulator's log: nothing lost, nothing duplicated.
InfluxDB is down for 30 s, with the gateway's default retry backoff (up to ``retry_max_s``,
30 s), so the replay after the restart may wait up to that long. Records are published at QoS 1
in these tests
(the contract publishes samples and buffer levels at QoS 0, which MQTT does not redeliver).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from gateway.settings import GatewaySettings
from plant_sim import payloads
from plant_sim.records import Record
from tests.gateway import helpers as h
from tests.gateway.live_plant import RestartableOpcUaPlant
from tests.servers.influxdb import InfluxServer, free_port
from tests.servers.mosquitto import Mosquitto

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
OUTAGE_S = 30.0
DEFAULT_RETRY = {
    name: GatewaySettings.model_fields[name].default for name in ("retry_initial_s", "retry_max_s")
}


def publish_all_qos1(
    client: mqtt.Client, records: Sequence[Record], run_id: str, start: int
) -> None:
    """Publish at QoS 1 whatever the contract QoS, and wait for the broker's acks."""
    h.publish(client, records, run_id, start, qos=1)


def thirds(records: list[Record]) -> tuple[list[Record], list[Record], list[Record]]:
    n = len(records) // 3
    return records[:n], records[n : 2 * n], records[2 * n :]


def test_influxdb_killed_and_restarted(
    tmp_path: Path, influxd_factory: Callable[[], InfluxServer], broker: Mosquitto
) -> None:
    influx = influxd_factory()
    db = influx.create_database("twin")
    records = h.run_log(5 * 3600)
    run_id, start = h.envelope(records)
    first, second, third = thirds(records)
    assert DEFAULT_RETRY["retry_max_s"] == 30.0
    gw = h.start_gateway(h.settings(tmp_path, influx, db, mqtt_url=broker.url, **DEFAULT_RETRY))
    pub = h.connect_publisher(broker.port)
    try:
        publish_all_qos1(pub, first, run_id, start)
        influx.kill()
        t_down = time.monotonic()
        publish_all_qos1(pub, second, run_id, start)
        h.wait_until(lambda: gw.stats.snapshot()["gateway"]["retries"] > 0, 10, "write retries")
        h.wait_until(lambda: len(gw.buffer) > 0, 10, "records in the disk buffer")
        time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - t_down)))
        influx.restart()
        t_up = time.monotonic()
        publish_all_qos1(pub, third, run_id, start)
        # the next retry comes at most retry_max_s after the restart
        h.wait_stored(influx, db, len(records), timeout_s=DEFAULT_RETRY["retry_max_s"] + 30)
        replay_s = time.monotonic() - t_up
        assert gw.stats.snapshot()["gateway"]["retries"] < 20  # backed off, not hammering
        h.assert_same_records(records, h.read_stored(influx, db, run_id))
        assert gw.stats.snapshot()["gateway"]["dropped"] == 0
        print(f"outage {t_up - t_down:.1f} s, stored everything {replay_s:.1f} s after restart")
    finally:
        pub.disconnect()
        gw.stop()


def test_broker_restarted(
    tmp_path: Path, influxd: InfluxServer, influx_db: str, broker: Mosquitto
) -> None:
    records = h.run_log(5 * 3600)
    run_id, start = h.envelope(records)
    first, second, third = thirds(records)
    gw = h.start_gateway(h.settings(tmp_path, influxd, influx_db, mqtt_url=broker.url))
    pub = h.connect_publisher(broker.port)
    try:
        publish_all_qos1(pub, first, run_id, start)
        broker.stop()
        infos = [  # published while the broker is down: paho keeps QoS 1 messages for later
            pub.publish(*_route(r, run_id, start)) for r in second
        ]
        time.sleep(1.0)
        broker.start()
        # paho reports NO_CONN for these but sends them after reconnecting; wait for the acks
        h.wait_until(lambda: all(i._published for i in infos), 30, "queued messages acked")
        publish_all_qos1(pub, third, run_id, start)
        h.wait_stored(influxd, influx_db, len(records))
        h.assert_same_records(records, h.read_stored(influxd, influx_db, run_id))
    finally:
        pub.disconnect()
        gw.stop()


def _route(rec: Record, run_id: str, start: int) -> tuple[str, bytes, int, bool]:
    topic, retain, _qos = payloads.route(rec, "acme", "plant1", "bottling")
    return topic, payloads.encode(rec, run_id, start), 1, retain


@pytest.mark.parametrize("scope", ["server", "machines"])
def test_opcua_server_restarted(
    tmp_path: Path, influxd: InfluxServer, influx_db: str, scope: str
) -> None:
    """The twin's real OPC UA server stopped and started again on its port, mid-run."""
    records = h.run_log(5 * 3600)
    run_id, start = h.envelope(records)
    half = len(records) // 2
    plant = RestartableOpcUaPlant(free_port(), run_id, start)
    plant.start()
    cfg = h.settings(
        tmp_path, influxd, influx_db, opcua_endpoint=plant.endpoint, opcua_event_scope=scope
    )
    gw = h.start_gateway(cfg)
    source = gw.sources[0]
    try:
        h.wait_until(source.subscribed.is_set, 30, "the gateway to subscribe")
        plant.publish(records[:half])
        h.wait_stored(influxd, influx_db, half)
        plant.stop()
        h.wait_until(lambda: not source.subscribed.is_set(), 20, "the gateway to see the loss")
        plant.start()  # a new address space on the same endpoint
        h.wait_until(source.subscribed.is_set, 40, "the gateway to resubscribe")
        assert source.subscriptions == 2 and plant.starts == 2
        plant.publish(records[half:])
        h.wait_stored(influxd, influx_db, len(records))
        time.sleep(1.0)  # a duplicate would arrive with the last records
        h.assert_same_records(records, h.read_stored(influxd, influx_db, run_id))
        assert gw.stats.snapshot()["opcua"]["records_out"] == len(records)
    finally:
        gw.stop()
        plant.close()


def _gateway_process(
    tmp_path: Path, influx: InfluxServer, db: str, broker: Mosquitto
) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT), TWIN_FLUSH_INTERVAL_S="0.1")
    log = (tmp_path / "gateway.log").open("ab")
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gateway",
            "--influx-url",
            influx.url,
            "--influx-database",
            db,
            "--mqtt-url",
            broker.url,
            "--mqtt-client-id",
            "gw-killed",
            "--data-dir",
            str(tmp_path / "gw"),
            "--batch-size",
            "500",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )


def test_gateway_killed_and_restarted(
    tmp_path: Path, influxd: InfluxServer, influx_db: str, broker: Mosquitto
) -> None:
    records = h.run_log(5 * 3600)
    run_id, start = h.envelope(records)
    proc = _gateway_process(tmp_path, influxd, influx_db, broker)
    pub = h.connect_publisher(broker.port)
    try:
        log = tmp_path / "gateway.log"
        h.wait_until(lambda: b"MQTT connected" in log.read_bytes(), 30, "the gateway's session")
        done = threading.Event()

        def publish_slowly() -> None:
            for i in range(0, len(records), 200):
                publish_all_qos1(pub, records[i : i + 200], run_id, start)
                time.sleep(0.02)
            done.set()

        threading.Thread(target=publish_slowly, daemon=True).start()
        h.wait_until(
            lambda: h.count_stored(influxd, influx_db) > len(records) // 4, 30, "a quarter stored"
        )
        proc.send_signal(signal.SIGKILL)  # mid-stream: messages in flight and unacknowledged
        proc.wait(10)
        time.sleep(1.0)
        proc = _gateway_process(tmp_path, influxd, influx_db, broker)
        h.wait_until(  # condition, not time: the restarted one is up, whatever the load
            lambda: log.read_bytes().count(b"gateway started") == 2, 60, "the restarted gateway"
        )
        assert done.wait(120)
        h.wait_stored(influxd, influx_db, len(records))
        time.sleep(1.0)
        h.assert_same_records(records, h.read_stored(influxd, influx_db, run_id))
    finally:
        pub.disconnect()
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
    assert proc.returncode == 0, (tmp_path / "gateway.log").read_text()[-2000:]
