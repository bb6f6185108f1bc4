"""Bring your own Sparkplug machines: a foreign edge node -> gateway (host) -> InfluxDB -> KPIs.

A scripted edge node ``Plant1/PLC7`` (no twin code: its payloads are encoded by Eclipse Tahu's
JavaScript ``sparkplug-payload``, run with node, and published with plain paho) plays 25 minutes
of its device ``Capper`` on a real Mosquitto: NBIRTH, DBIRTH with aliases, then DDATA by alias
with metric timestamps. The real gateway, a Sparkplug host application under
docs/sparkplug/plc_line.yaml, stores the records in a real InfluxDB; the analytics service's KPIs
must equal the values computed by hand.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from analytics.service import AnalyticsService, InfluxConfig, InfluxQL, LineWriter, RunReader
from analytics.service.writer import make_sink
from gateway.deadletter import read_dead_letters
from plant_sim.records import PartDone, RunStart, StateChange
from tests.gateway import helpers as h
from tests.interop.conftest import run_node
from tests.servers.influxdb import InfluxServer
from tests.servers.mosquitto import Mosquitto
from tests.service.helpers import stored_kpis

pytestmark = pytest.mark.integration
MAPPING = Path(__file__).resolve().parents[2] / "docs" / "sparkplug" / "plc_line.yaml"
NODE = "spBv1.0/Plant1/{}/PLC7"
T0 = round(datetime(2026, 1, 5, 6, 0, tzinfo=UTC).timestamp() * 1000)
STATE, GOOD, SCRAP, TEMP = 1, 2, 3, 4  # the aliases of the DBIRTH
TYPES = {STATE: "Int32", GOOD: "Int64", SCRAP: "Int64", TEMP: "Double"}
PRI = 8.0
# (seconds after 06:00, {alias: value}) of the DDATA
SCRIPT: list[tuple[int, dict[int, float]]] = [
    *[(t, {GOOD: t // 10}) for t in range(10, 601, 10)],  # 60 good
    (600, {STATE: 3, TEMP: 80.5}),  # down 600-900
    (900, {STATE: 1}),
    *[(t, {GOOD: 60 + (t - 900) // 10}) for t in range(910, 1201, 10)],  # 30 good
    (1000, {SCRAP: 1}),
    (1100, {SCRAP: 2}),
    (1200, {STATE: 4}),  # idle 1200-1500
    (1500, {STATE: 0}),  # off shift: outside PBT
]
GQ, SQ = 90, 2
PQ = GQ + SQ
APT, PBT = 900.0, 1500.0
EXPECTED = {
    "availability": APT / PBT,  # 0.6
    "effectiveness": PRI * PQ / APT,  # 0.818
    "quality_ratio": GQ / PQ,  # 0.978
    "oee": PRI * GQ / PBT,  # 0.48
}


def _messages() -> list[dict]:
    """The edge node's messages as sparkplug-payload takes them (one bad state value: 7)."""
    births = [
        {
            "topic": NODE.format("NBIRTH"),
            "payload": {
                "timestamp": T0,
                "seq": 0,
                "metrics": [
                    {"name": "bdSeq", "type": "Int64", "value": 0, "timestamp": T0},
                    {"name": "Node Control/Rebirth", "type": "Boolean", "value": False},
                ],
            },
        },
        {
            "topic": NODE.format("DBIRTH") + "/Capper",
            "payload": {
                "timestamp": T0,
                "seq": 1,
                "metrics": [
                    {"name": name, "alias": alias, "type": TYPES[alias], "value": value}
                    for name, alias, value in [
                        ("Status/MachineState", STATE, 1),
                        ("Counters/Good", GOOD, 0),
                        ("Counters/Scrap", SCRAP, 0),
                        ("Process/Temperature", TEMP, 21.5),
                    ]
                ],
            },
        },
    ]
    data = [(t, values) for t, values in sorted(SCRIPT, key=lambda s: s[0])]
    data.insert(70, (650, {STATE: 7}))  # not in the mapping's values: a dead letter
    return births + [
        {
            "topic": NODE.format("DDATA") + "/Capper",
            "payload": {
                "timestamp": T0 + t * 1000 + 700,  # sent later: the metric times count
                "seq": (2 + i) % 256,
                "metrics": [
                    {"alias": a, "type": TYPES[a], "value": v, "timestamp": T0 + t * 1000}
                    for a, v in values.items()
                ],
            },
        }
        for i, (t, values) in enumerate(data)
    ]


def test_foreign_edge_node_gives_hand_computed_kpis(
    tmp_path: Path,
    node_stack: Path,
    influxd: InfluxServer,
    influx_db: str,
    spb_broker: Mosquitto,
) -> None:
    source = tmp_path / "messages.json"
    source.write_text(json.dumps(_messages()))
    encoded = run_node(node_stack / "encode_sparkplug.js", str(source))
    settings = h.settings(
        tmp_path,
        influxd,
        influx_db,
        mqtt_url=spb_broker.url,
        mqtt_format="sparkplug",
        sparkplug_mapping=MAPPING,
    )
    gateway = h.start_gateway(settings)
    publisher = h.connect_publisher(spb_broker.port, "plc7")
    front = gateway.sources[0].front
    try:
        for message in encoded:
            body = base64.b64decode(message["payload"])
            publisher.publish(message["topic"], body, qos=1).wait_for_publish(30)
        states = 5  # processing, down, processing, idle, off_shift
        n_records = 1 + states + PQ
        h.wait_stored(influxd, influx_db, n_records, 60)
        h.wait_until(lambda: front.dead_lettered == 1, 30, "the dead letter")
    finally:
        publisher.loop_stop()
        publisher.disconnect()
        gateway.stop()
    assert gateway.sources[0].host.seq_gaps == 0
    run = front.mapped.records
    assert h.stored_numbers(influxd, influx_db, run.run_id) == list(range(n_records))
    stored = [s.record for s in h.read_stored(influxd, influx_db, run.run_id)]
    assert isinstance(stored[0], RunStart) and stored[0].start_epoch_ms == T0
    assert [(r.t, r.station, r.state.value) for r in stored if isinstance(r, StateChange)] == [
        (0.0, "capper", "processing"),
        (600.0, "capper", "down"),
        (900.0, "capper", "processing"),
        (1200.0, "capper", "idle"),
        (1500.0, "capper", "off_shift"),
    ]
    parts = sorted((r.t, r.result) for r in stored if isinstance(r, PartDone))
    assert parts == sorted(
        [(float(t), "good") for t in [*range(10, 601, 10), *range(910, 1201, 10)]]
        + [(1000.0, "scrap"), (1100.0, "scrap")]
    )
    (letter,) = read_dead_letters(settings.data_dir / "dead_letters.jsonl")
    assert letter["reason"] == "sparkplug_mapping: Status/MachineState: value '7' not mapped"

    config = InfluxConfig(influxd.url, influx_db)
    service = AnalyticsService(
        RunReader(InfluxQL(config)), LineWriter(make_sink(config)), run_ids=[run.run_id]
    )
    service.cycle()
    kpis = stored_kpis(influxd, influx_db)
    hour = [row for key, row in kpis.items() if key[1:4] == ("station", "capper", "hour")]
    assert len(hour) == 1, sorted(kpis)
    row = hour[0]
    assert (row["pq"], row["gq"], row["sq"]) == (PQ, GQ, SQ)
    for name, value in EXPECTED.items():
        assert row[name] == pytest.approx(value, abs=1e-9), name
