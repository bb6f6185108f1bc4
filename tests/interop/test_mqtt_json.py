"""Generic MQTT JSON ingestion: a UMH-style _historian flow -> gateway -> InfluxDB -> KPIs.

A plain paho publisher (no twin code) plays 25 minutes of one work cell as UMH data model v1
``_historian`` messages on a real Mosquitto; the real gateway ingests them under
docs/mqtt/umh_line.yaml into a real InfluxDB; the analytics service's KPIs must equal the
values computed by hand. Messages the mapping cannot read are dead letters with the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from analytics.service import AnalyticsService, InfluxConfig, InfluxQL, LineWriter, RunReader
from analytics.service.writer import make_sink
from gateway.deadletter import read_dead_letters
from plant_sim.records import PartDone, RunStart, StateChange
from tests.gateway import helpers as h
from tests.servers.influxdb import InfluxServer
from tests.servers.mosquitto import Mosquitto
from tests.service.helpers import stored_kpis

pytestmark = pytest.mark.integration
MAPPING = Path(__file__).resolve().parents[2] / "docs" / "mqtt" / "umh_line.yaml"
TOPIC = "umh/v1/acme/plant1/assembly/line1/cell01/plc1/_historian"
T0 = round(datetime(2026, 1, 5, 6, 0, tzinfo=UTC).timestamp() * 1000)
PRI = 25.0
# (seconds after 06:00, fields of the _historian message besides timestamp_ms)
SCRIPT: list[tuple[int, dict]] = [
    (0, {"machine_state": "producing", "good_count": 0, "scrap_count": 0}),
    *[(t, {"good_count": t // 30}) for t in range(30, 601, 30)],  # 20 good
    (600, {"machine_state": "fault"}),  # ADET 600-900
    (900, {"machine_state": "producing"}),
    *[(t, {"good_count": 20 + (t - 900) // 30}) for t in range(930, 1201, 30)],  # 10 good
    (1000, {"scrap_count": 1}),
    (1200, {"machine_state": "waiting"}),  # ADOT 1200-1500
    (1500, {"machine_state": "off"}),  # switched off: outside PBT
]
GQ, SQ = 30, 1
PQ = GQ + SQ
APT, PBT = 900.0, 1500.0
EXPECTED = {
    "availability": APT / PBT,  # 0.6
    "effectiveness": PRI * PQ / APT,  # 0.861
    "quality_ratio": GQ / PQ,  # 0.968
    "oee": PRI * GQ / PBT,  # 0.5
}
BAD = [
    (TOPIC, b'{"timestamp_ms": 1767592900000, "machine_state": "dancing"}', "machine_state"),
    (TOPIC.replace("cell01", "cell99"), b'{"timestamp_ms": 1767592900000}', "station"),
    (TOPIC, b"not json", "not JSON"),
    (TOPIC, b'{"machine_state": "fault"}', "timestamp_ms"),
]


def test_umh_historian_flow_gives_hand_computed_kpis(
    tmp_path: Path,
    influxd: InfluxServer,
    influx_db: str,
    mosquitto_factory: Callable[..., Mosquitto],
) -> None:
    broker = mosquitto_factory(extra_conf=h.BROKER_CONF)
    settings = h.settings(tmp_path, influxd, influx_db, mqtt_url=broker.url, mqtt_mapping=MAPPING)
    gateway = h.start_gateway(settings)
    publisher = h.connect_publisher(broker.port, "umh-flow")
    try:
        messages = sorted(SCRIPT, key=lambda m: m[0])
        for t, fields in messages:
            body = orjson.dumps({"timestamp_ms": T0 + t * 1000, **fields})
            publisher.publish(TOPIC, body, qos=1).wait_for_publish(30)
        for topic, body, _ in BAD:
            publisher.publish(topic, body, qos=1).wait_for_publish(30)
        states = 5  # producing, down, producing, idle, off_shift
        n_records = 1 + states + PQ
        h.wait_stored(influxd, influx_db, n_records, 60)
        h.wait_until(lambda: gateway.mapped_intake.dead_lettered == len(BAD), 30, "dead letters")
    finally:
        publisher.loop_stop()
        publisher.disconnect()
        gateway.stop()
    run = gateway.mapped_intake.translator.records
    stored = [s.record for s in h.read_stored(influxd, influx_db, run.run_id)]
    assert len(stored) == n_records
    assert isinstance(stored[0], RunStart) and stored[0].start_epoch_ms == T0
    assert [(r.t, r.state.value) for r in stored if isinstance(r, StateChange)] == [
        (0.0, "processing"),
        (600.0, "down"),
        (900.0, "processing"),
        (1200.0, "idle"),
        (1500.0, "off_shift"),
    ]
    parts = [r for r in stored if isinstance(r, PartDone)]
    assert sorted((r.t, r.result) for r in parts) == sorted(
        [(float(t), "good") for t in [*range(30, 601, 30), *range(930, 1201, 30)]]
        + [(1000.0, "scrap")]
    )
    letters = read_dead_letters(settings.data_dir / "dead_letters.jsonl")
    assert len(letters) == len(BAD)
    for letter, (_, _, needle) in zip(letters, BAD, strict=True):
        assert letter["reason"].startswith("mqtt_mapping: ") and needle in letter["reason"]

    config = InfluxConfig(influxd.url, influx_db)
    service = AnalyticsService(
        RunReader(InfluxQL(config)), LineWriter(make_sink(config)), run_ids=[run.run_id]
    )
    service.cycle()
    kpis = stored_kpis(influxd, influx_db)
    hour = [row for key, row in kpis.items() if key[1:4] == ("station", "cell01", "hour")]
    assert len(hour) == 1, sorted(kpis)
    row = hour[0]
    assert (row["pq"], row["gq"], row["sq"]) == (PQ, GQ, SQ)
    for name, value in EXPECTED.items():
        assert row[name] == pytest.approx(value, abs=1e-9), name
