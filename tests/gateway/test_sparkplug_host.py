"""The gateway as a Sparkplug B host application, against the real Mosquitto and InfluxDB.

- a gateway restarted mid-run (default settings but the host id) stores every record once:
  lost and duplicated record numbers are counted exactly (both zero); also when it is killed
  (SIGKILL) in the busy hours with the demo broker's queue settings (QoS 0 not queued for it)
  and comes back only after the run's last record;
- hostile payloads are dead letters with their reason, and the gateway keeps storing;
- a ``seq`` gap is answered by an NCMD ``Node Control/Rebirth`` that ``mosquitto_sub`` (an
  independent client) sees, and the twin's edge node publishes its births again;
- the host's STATE: retained ``{"online": true, "timestamp": t}``, ``online: false`` by the
  will when the connection is lost and when the gateway stops.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import orjson
import pytest

from gateway.deadletter import read_dead_letters
from plant_sim import payloads
from tests.gateway import helpers as h
from tests.gateway.live_plant import ROOT, LivePlant
from tests.gateway.test_default_outage import deploy_queue_settings
from tests.servers.influxdb import InfluxServer
from tests.servers.mosquitto import Mosquitto
from twin_io.sparkplug_payload import RECORD_METRIC, DataType, Payload, metric

pytestmark = pytest.mark.integration
HOST = "twin-gateway"
GROUP = "acme_plant1_bottling"  # the bottling line's Sparkplug group


class Subscriber:
    """``mosquitto_sub`` printing ``retain topic hex-payload`` lines, collected by a thread."""

    def __init__(self, broker: Mosquitto, *topics: str) -> None:
        if shutil.which("mosquitto_sub") is None:
            pytest.skip("mosquitto_sub is not installed (mosquitto-clients)")
        argv = ["mosquitto_sub", "-h", broker.host, "-p", str(broker.port), "-F", "%r %t %x"]
        for topic in topics:
            argv += ["-t", topic]
        self.lines: list[tuple[bool, str, bytes]] = []
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            retain, topic, payload = [*line.rstrip("\n").split(" "), ""][:3]
            self.lines.append((retain == "1", topic, bytes.fromhex(payload)))

    def on(self, topic: str) -> list[tuple[bool, bytes]]:
        """Messages seen on ``topic``: (retained, payload)."""
        return [(r, p) for r, t, p in list(self.lines) if t == topic]

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def host_settings(
    tmp: Path, influxd: InfluxServer, db: str, broker: Mosquitto
) -> h.GatewaySettings:
    """The test settings, with the Sparkplug format and the host id (nothing else changed)."""
    return h.settings(
        tmp, influxd, db, mqtt_url=broker.url, mqtt_format="sparkplug", sparkplug_host_id=HOST
    )


def test_gateway_restarted_mid_run_stores_every_record_once(
    tmp_path: Path, influxd: InfluxServer, broker: Mosquitto
) -> None:
    plant = LivePlant(
        None,
        broker.url,
        until_s=4 * 3600,
        speed=1500,
        seed=7,
        mqtt_format="sparkplug",
        sparkplug_primary_host=HOST,
    )
    plant.serve()
    db = influxd.create_database()
    cfg = host_settings(tmp_path, influxd, db, broker)
    gateway = h.start_gateway(cfg)
    try:
        plant.run()
        h.wait_until(lambda: h.count_stored(influxd, db) >= 400, 60, "400 records stored")
        gateway.stop()  # mid-run: the edge node holds its records while the host is offline
        emitted = len(plant.memory.records)
        h.wait_until(lambda: len(plant.memory.records) >= emitted + 400, 60, "records meanwhile")
        gateway = h.start_gateway(cfg)
        plant.wait(120)
        truth = plant.truth
        h.wait_stored(influxd, db, len(truth), timeout_s=60)
    finally:
        gateway.stop()
    run_id = truth[0].run_id
    numbers = Counter(s.n for s in h.read_stored(influxd, db, run_id))
    lost = set(range(len(truth))) - set(numbers)
    duplicated = sum(c - 1 for c in numbers.values())
    assert (len(lost), duplicated) == (0, 0)
    h.assert_same_records(truth, h.read_stored(influxd, db, run_id))
    assert plant.sparkplug is not None
    carriers = plant.sparkplug.records.carriers.values()
    assert sum(c.dropped for c in carriers) == 0
    assert sum(c.forwarded for c in carriers) > 0  # held while the host was away, then sent


def start_host_process(
    tmp: Path, influx: InfluxServer, db: str, broker: Mosquitto
) -> subprocess.Popen:
    """``twin gateway`` as a Sparkplug host with its defaults otherwise."""
    log = (tmp / "gateway.log").open("ab")
    args = ["--influx-url", influx.url, "--influx-database", db, "--mqtt-url", broker.url]
    args += ["--mqtt-format", "sparkplug", "--sparkplug-host-id", HOST]
    return subprocess.Popen(
        [sys.executable, "-m", "gateway", *args, "--data-dir", str(tmp / "gw")],
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )


def test_host_killed_mid_run_with_the_demo_broker_settings_loses_nothing(
    tmp_path: Path, influxd: InfluxServer, influx_db: str, mosquitto_factory: object
) -> None:
    """SIGKILL: the will says offline; what was in flight to the dead host (QoS 0, not queued
    by the demo's broker) comes again from the edge node after its births."""
    broker = mosquitto_factory(extra_conf=deploy_queue_settings())  # type: ignore[operator]
    log = tmp_path / "gateway.log"
    proc = start_host_process(tmp_path, influxd, influx_db, broker)
    h.wait_until(lambda: log.exists() and b"STATE online" in log.read_bytes(), 60, "the host")
    plant = LivePlant(
        None,
        broker.url,
        until_s=8 * 3600,
        speed=2000,
        seed=7,
        mqtt_format="sparkplug",
        sparkplug_primary_host=HOST,
        linger_s=12.0,  # the edge nodes stay up for the host's return
    )
    try:
        plant.serve()
        plant.run()
        h.wait_until(lambda: h.count_stored(influxd, influx_db) >= 5000, 60, "records stored")
        proc.send_signal(signal.SIGKILL)  # records in flight, some in its intake
        proc.wait(10)
        emitted = len(plant.memory.records)
        h.wait_until(lambda: len(plant.memory.records) >= emitted + 3000, 60, "records meanwhile")
        assert not plant.done.is_set(), "the outage must fall inside the run"
        # the host comes back after the run's last record: the edge node sends what it holds
        # right after its births, not only with the next records
        ended = lambda: plant.memory.records[-1].kind == "run_end"  # noqa: E731
        h.wait_until(ended, 60, "the end of the run")
        proc = start_host_process(tmp_path, influxd, influx_db, broker)
        plant.wait(120)
        truth = plant.truth
        h.wait_stored(influxd, influx_db, len(truth), timeout_s=60)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    assert proc.returncode == 0, log.read_text()[-2000:]
    numbers = Counter(s.n for s in h.read_stored(influxd, influx_db, truth[0].run_id))
    lost = set(range(len(truth))) - set(numbers)
    duplicated = sum(c - 1 for c in numbers.values())
    assert (len(lost), duplicated) == (0, 0)
    assert plant.sparkplug is not None
    assert sum(c.forwarded for c in plant.sparkplug.records.carriers.values()) > 0


def nbirth() -> Payload:
    birth = Payload(timestamp=1, seq=0)
    birth.metrics.append(metric(0, DataType.INT64, 0, 1, "bdSeq"))
    birth.metrics.append(metric(1, DataType.STRING, "", 1, RECORD_METRIC))
    birth.metrics.append(metric(2, DataType.DOUBLE, 20.0, 1, "Temperature"))
    return birth


def test_hostile_payloads_are_dead_letters_with_reason(
    tmp_path: Path, influxd: InfluxServer, broker: Mosquitto
) -> None:
    db = influxd.create_database()
    gateway = h.start_gateway(host_settings(tmp_path, influxd, db, broker))
    records = h.run_log(until_s=900)[:30]
    run_id, start_ms = h.envelope(records)
    node = f"spBv1.0/{GROUP}/{{}}/edge1"
    seq = iter(range(1, 256))

    def data(*metrics: object) -> bytes:
        payload = Payload(timestamp=1, seq=next(seq))
        payload.metrics.extend(metrics)
        return payload.SerializeToString()

    bad_json = metric(1, DataType.STRING, "{not json", 1)
    hostile = [
        (node.format("NDATA"), data(metric(1, DataType.STRING, "x", 1)), "before the NBIRTH"),
        (node.format("NBIRTH"), nbirth().SerializeToString(), None),
        (node.format("NDATA"), b"\xff\xff\x00garbage", "not a Sparkplug B protobuf"),
        (node.format("NDATA"), data(metric(99, DataType.DOUBLE, 1.0, 1)), "unknown alias 99"),
        (node.format("NDATA"), data(metric(2, DataType.STRING, "hot", 1)), "wrong type"),
        (node.format("DDATA") + "/dev1", data(), "before the DBIRTH"),
        (f"spBv1.0/{GROUP}/NFOO/edge1", b"", "unknown Sparkplug message type"),
        (node.format("NDATA"), data(bad_json), "payload: not JSON"),
        (f"spBv1.0/{GROUP}/NBIRTH/edge1/dev1", b"", "with a device id"),
    ]
    good = data(
        *(
            metric(1, DataType.STRING, payloads.encode(r, run_id, start_ms, n).decode(), 1)
            for n, r in enumerate(records)
        )
    )
    client = h.connect_publisher(broker.port, "hostile")
    try:
        for topic, payload, _ in hostile:
            client.publish(topic, payload, qos=1).wait_for_publish(10)
        client.publish(node.format("NDATA"), good, qos=1).wait_for_publish(10)
        h.wait_stored(influxd, db, len(records), timeout_s=30)
        assert gateway.failure() is None
    finally:
        client.disconnect()
        gateway.stop()
    h.assert_same_records(records, h.read_stored(influxd, db, run_id))
    letters = read_dead_letters(tmp_path / "gw" / "dead_letters.jsonl")
    reasons = [entry["reason"] for entry in letters]
    want = [reason for _, _, reason in hostile if reason is not None]
    assert len(reasons) == len(want), reasons
    for reason in want:
        assert sum(reason in got for got in reasons) == 1, (reason, reasons)


def test_seq_gap_asks_the_twin_for_a_rebirth_and_states_are_published(
    tmp_path: Path, influxd: InfluxServer, broker: Mosquitto
) -> None:
    sub = Subscriber(broker, f"spBv1.0/{GROUP}/NCMD/#", f"spBv1.0/{GROUP}/NBIRTH/#")
    state = Subscriber(broker, f"spBv1.0/STATE/{HOST}")
    plant = LivePlant(
        None,
        broker.url,
        until_s=600,
        speed=2400,
        mqtt_format="sparkplug",
        sparkplug_primary_host=HOST,
    )
    plant.serve()
    db = influxd.create_database()
    gateway = h.start_gateway(host_settings(tmp_path, influxd, db, broker))
    nbirth_topic = f"spBv1.0/{GROUP}/NBIRTH/line1"
    ncmd_topic = f"spBv1.0/{GROUP}/NCMD/line1"
    state_topic = f"spBv1.0/STATE/{HOST}"
    client = h.connect_publisher(broker.port, "gap")
    try:
        h.wait_until(lambda: len(sub.on(nbirth_topic)) == 1, 20, "the twin's NBIRTH")
        h.wait_until(lambda: gateway.sources[0].host.sessions, 20, "the host saw the births")
        gap = Payload(timestamp=1, seq=200)  # the host expects seq 1 + the DBIRTHs
        client.publish(f"spBv1.0/{GROUP}/NDATA/line1", gap.SerializeToString(), qos=1)
        h.wait_until(lambda: len(sub.on(ncmd_topic)) == 1, 20, "a rebirth request")
        h.wait_until(lambda: len(sub.on(nbirth_topic)) == 2, 20, "the twin's births again")
        request = Payload()
        request.ParseFromString(sub.on(ncmd_topic)[0][1])
        assert [(m.name, m.boolean_value) for m in request.metrics] == [
            ("Node Control/Rebirth", True)
        ]
        # STATE: retained online; the will says offline when the connection is lost
        h.wait_until(lambda: state.on(state_topic), 10, "the host's STATE")
        online = json.loads(state.on(state_topic)[0][1])
        assert online["online"] is True and isinstance(online["timestamp"], int)
        retained = Subscriber(broker, state_topic)
        h.wait_until(lambda: retained.on(state_topic), 10, "the retained STATE")
        assert retained.on(state_topic)[0][0] is True  # retained
        retained.close()
        gateway.sources[0].loop.client.socket().close()  # the connection drops: the will
        h.wait_until(lambda: len(state.on(state_topic)) >= 3, 20, "offline, then online again")
        plant.run()
        plant.wait(60)
    finally:
        client.disconnect()
        gateway.stop()
        sub.close()
    h.wait_until(lambda: len(state.on(state_topic)) >= 4, 10, "offline when it stops")
    state.close()
    seen = [orjson.loads(p) for _, p in state.on(state_topic)]
    assert [s["online"] for s in seen] == [True, False, True, False], seen
    # Sparkplug 3.0: the online STATE of a session carries the timestamp of its will
    assert seen[0]["timestamp"] == seen[1]["timestamp"] < seen[2]["timestamp"]
    assert seen[2]["timestamp"] == seen[3]["timestamp"]
