"""Sparkplug B from the twin, decoded by Eclipse Tahu's JavaScript decoder (npm sparkplug-payload).

The edge node (plant_sim/live/sparkplug.py) publishes the bottling line's first 6.5 hours on a
real Mosquitto; a plain paho subscriber captures every message under ``spBv1.0/#``; a rebirth
is requested with an NCMD, then the edge node's connection is cut so that the broker publishes
its will. Tahu's decoder reads the captured bytes; births, aliases, ``seq`` and the death's
``bdSeq`` are checked on what it decoded.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from plant_sim import payloads
from plant_sim.live.layout import PlantLayout
from plant_sim.live.sparkplug import (
    REBIRTH,
    STATION_METRICS,
    SparkplugEdgeNode,
    group_id,
    unit_of,
)
from plant_sim.live.sparkplug_sink import SparkplugSettings, SparkplugSink
from plant_sim.records import StateChange
from plant_sim.scenario import Scenario, StationMaintenanceEvent
from plant_sim.simulation import run_batch
from tests.gateway import helpers as h
from tests.interop.sparkplug_helpers import (
    EDGE_KINDS,
    GROUP,
    Capture,
    Host,
    async_wait,
    live_config,
    rebirth_request,
    tahu_decode,
)
from tests.live.helpers import Subscriber, launch
from tests.servers.mosquitto import Mosquitto
from twin_io.sparkplug_payload import RECORD_METRIC, DataType, Payload

pytestmark = pytest.mark.integration
UNTIL = 6.5 * 3600
TYPES = {
    DataType.STRING: "String",
    DataType.INT32: "Int32",
    DataType.UINT64: "UInt64",
    DataType.DOUBLE: "Double",
}

FIELDS = {  # where Tahu's decoder reads each datatype's value
    DataType.STRING: "stringValue",
    DataType.INT32: "intValue",
    DataType.UINT64: "longValue",
    DataType.DOUBLE: "doubleValue",
}


def test_tahu_decodes_births_aliases_seq_and_death(
    tmp_path: Path,
    spb_broker: Mosquitto,
    bottling: Scenario,
    node_stack: Path,
) -> None:
    capture = Capture(spb_broker.port)
    batch = run_batch(bottling, UNTIL, seed=3)
    start = batch.records[0]
    layout = PlantLayout.from_scenario(bottling)
    line = layout.lines[0]
    group = group_id(layout.enterprise, layout.site, layout.area)
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="edge-line1")
    client.max_queued_messages_set(0)
    edge = SparkplugEdgeNode(
        group, line, lambda: start.start_epoch_ms, lambda t, p, q: client.publish(t, p, q)
    )
    will_topic, will = edge.will()
    client.will_set(will_topic, will, qos=1)
    client.message_callback_add(edge.topic("NCMD"), lambda _c, _u, m: edge.on_ncmd(m.payload))
    client.connect("127.0.0.1", spb_broker.port)
    client.loop_start()
    client.subscribe(edge.subscriptions())
    edge.birth()
    published = 0
    for rec in batch.records:
        before = edge.seq
        edge.apply(rec, payloads.epoch_ms(start.start_epoch_ms, rec.t))
        published += edge.seq != before
    assert published > 300  # seq wraps at least once
    n_before = 1 + len(line.stations) + published
    h.wait_until(lambda: len(capture.kinds()) >= n_before, 90, "the data")
    # a host asks for a rebirth
    request = rebirth_request(start.start_epoch_ms)
    capture.client.publish(edge.topic("NCMD"), request, qos=1)
    n_rebirth = n_before + 1 + len(line.stations)
    h.wait_until(lambda: len(capture.kinds()) >= n_rebirth, 30, "the rebirth")
    client.loop_stop()
    client.socket().close()  # no DISCONNECT: the broker publishes the will (NDEATH)
    h.wait_until(lambda: "NDEATH" in capture.kinds(), 30, "the NDEATH will")
    capture.stop()

    decoded = tahu_decode(node_stack, tmp_path, capture.messages)
    kinds = [m["topic"].split("/")[2] for m in decoded]
    assert kinds[0] == "NBIRTH" and kinds[-1] == "NDEATH"
    assert kinds.count("NBIRTH") == 2 and kinds.count("DBIRTH") == 2 * len(line.stations)
    assert all(m["topic"].split("/")[:2] == ["spBv1.0", group] for m in decoded)

    nbirth = decoded[0]["payload"]
    node_metrics = {m["name"]: m for m in nbirth["metrics"]}
    assert nbirth["seq"] in (0, "0")
    assert node_metrics["bdSeq"]["type"] == "Int64" and str(node_metrics["bdSeq"]["value"]) == "0"
    assert node_metrics[REBIRTH]["type"] == "Boolean" and node_metrics[REBIRTH]["value"] is False
    levels = [m for name, m in node_metrics.items() if name.startswith("Buffers/")]
    assert levels and all(m["properties"]["engUnit"]["value"] == "H87" for m in levels)

    # every DBIRTH carries every station metric with name, alias and type; aliases are unique
    aliases: dict[str, dict[str, str]] = {}
    for msg in decoded:
        if msg["topic"].split("/")[2] == "DBIRTH":
            device = msg["topic"].split("/")[4]
            names = {m["name"]: m for m in msg["payload"]["metrics"]}
            assert set(names) == set(STATION_METRICS)
            for name, datatype in STATION_METRICS.items():
                if datatype in TYPES:
                    assert names[name]["type"] == TYPES[datatype], name
                unit = unit_of(name)  # process values carry their unit (engUnit property)
                want = None if unit is None else {"engUnit": {"type": "String", "value": unit}}
                assert names[name]["properties"] == want, name
            assert names["Process/Temperature"]["properties"]["engUnit"]["value"] == "CEL"
            aliases[device] = {str(m["alias"]): name for name, m in names.items()}
    all_aliases = [a for dev in aliases.values() for a in dev]
    assert len(all_aliases) == len(set(all_aliases))

    # seq: NBIRTH 0, then +1 per message modulo 256, until the rebirth's NBIRTH restarts it
    expected = 0
    edge_messages = [m for m in decoded[:-1] if m["topic"].split("/")[2] != "NCMD"]
    for msg in edge_messages:  # the host's NCMD and the NDEATH carry no seq
        kind = msg["topic"].split("/")[2]
        if kind == "NBIRTH":
            expected = 0
        assert int(msg["payload"]["seq"]) == expected, (kind, msg["payload"]["seq"], expected)
        expected = (expected + 1) % 256
    assert max(int(m["payload"]["seq"]) for m in edge_messages) == 255

    # DDATA: aliases only, known aliases, each value in the field Tahu reads for the datatype
    # the birth declared (String -> stringValue, Int32 -> intValue, UInt64 -> longValue, ...),
    # and the last state of each station as in the batch
    state_alias = {
        dev: next(a for a, n in al.items() if n == "State") for dev, al in aliases.items()
    }
    last_state: dict[str, str] = {}
    for msg in decoded:
        if msg["topic"].split("/")[2] == "DDATA":
            device = msg["topic"].split("/")[4]
            for m in msg["payload"]["metrics"]:
                assert m["name"] is None and str(m["alias"]) in aliases[device]
                datatype = STATION_METRICS[aliases[device][str(m["alias"])]]
                assert m["raw_field"] == FIELDS[datatype], (datatype, m)
                if str(m["alias"]) == state_alias[device]:
                    last_state[device] = m["raw_value"]
    truth = {r.station: r.state.value for r in batch.records if isinstance(r, StateChange)}
    assert last_state == truth

    # the will: NDEATH with the bdSeq of the NBIRTH it ends
    death = decoded[-1]["payload"]["metrics"]
    assert [(m["name"], str(m["value"])) for m in death] == [("bdSeq", "0")]


async def test_twin_sim_publishes_sparkplug(spb_broker: Mosquitto, bottling: Scenario) -> None:
    """``twin sim --mqtt-format sparkplug``: births, then the same states as the batch run."""
    capture = Capture(spb_broker.port)
    config = live_config(spb_broker.url, speed=1e5, until_s=6.1 * 3600)
    linger = asyncio.Event()
    task, runner = await launch(bottling, config, linger=linger)
    await asyncio.wait_for(runner.done.wait(), 60)
    truth = run_batch(bottling, 6.1 * 3600, seed=4).records
    states = [r for r in truth if isinstance(r, StateChange)]
    want = {r.station: r.state.value for r in states}
    await asyncio.to_thread(h.wait_until, lambda: last_states(capture) == want, 90, "the states")
    linger.set()
    await task
    # the states alternate, so the wait may match before the run's last DDATA arrive; the
    # NDEATH of the stop comes after all of them
    await asyncio.to_thread(h.wait_until, lambda: "NDEATH" in capture.kinds(), 30, "NDEATH")
    capture.stop()
    kinds = capture.kinds()
    assert kinds[0] == "NBIRTH" and kinds.count("DBIRTH") == len(bottling.lines[0].stations)
    assert last_states(capture) == want


def last_states(capture: Capture) -> dict[str, str]:
    """Each device's last State metric value (decoded with the aliases of its DBIRTH)."""
    aliases: dict[str, int] = {}
    last: dict[str, str] = {}
    with capture.lock:
        messages = list(capture.messages)
    for topic, body in messages:
        if topic.count("/") != 4:
            continue
        device = topic.split("/")[4]
        payload = Payload.FromString(body)
        if "/DBIRTH/" in topic:
            aliases[device] = next(m.alias for m in payload.metrics if m.name == "State")
        elif "/DDATA/" in topic:
            for m in payload.metrics:
                if m.alias == aliases.get(device):
                    last[device] = m.string_value
    return last


async def test_commands_over_dcmd_and_ncmd(spb_broker: Mosquitto, bottling: Scenario) -> None:
    """DCMD Command/InjectFailure and ClearFailure, NCMD Command/SpeedFactor act on the twin
    while it floods DDATA (speed 20,000, far behind the clock); an invalid value is rejected as
    on the other command paths."""
    capture = Capture(spb_broker.port, f"spBv1.0/{GROUP}/+/line1/filler")
    host = Host(spb_broker.port)
    config = live_config(spb_broker.url)
    task, runner = await launch(bottling, config)
    try:
        await async_wait(lambda: runner.model.now > 5.95 * 3600, "the morning")
        await host.command("NCMD", "Command/SpeedFactor", DataType.DOUBLE, 60.0)
        await async_wait(lambda: runner.clock.speed == 60.0, "speed 60")
        await host.command("DCMD", "Command/InjectFailure", DataType.DOUBLE, -5.0, "filler")
        await host.command("NCMD", "Command/SpeedFactor", DataType.DOUBLE, -1.0)  # rejected
        await host.command("DCMD", "Command/ClearFailure", DataType.BOOLEAN, False, "filler")
        await host.command("DCMD", "Command/InjectFailure", DataType.DOUBLE, 600.0, "filler")
        await async_wait(lambda: "sparkplug" in reasons(capture, "filler"), "the failure")
        assert runner.clock.speed == 60.0
        assert reasons(capture, "filler").count("sparkplug") == 1
        await host.command("DCMD", "Command/ClearFailure", DataType.BOOLEAN, True, "filler")
        await async_wait(lambda: reasons(capture, "filler")[-1] != "sparkplug", "the repair")
    finally:
        runner.stop()
        await task
        host.stop()
        capture.stop()


def reasons(capture: Capture, device: str) -> list[str]:
    """The State/Reason values the device reported, in order."""
    alias = None
    out = []
    with capture.lock:
        messages = list(capture.messages)
    for topic, body in messages:
        if not topic.endswith(f"/{device}") or "CMD/" in topic:
            continue
        payload = Payload()
        payload.ParseFromString(body)
        for m in payload.metrics:
            if m.name == "State/Reason":
                alias = m.alias
            elif alias is not None and m.alias == alias:
                out.append(m.string_value)
    return out


async def test_an_ncmd_is_acted_on_while_a_flood_of_ddata_goes_out(
    spb_broker: Mosquitto, bottling: Scenario
) -> None:
    """Regression (issue 16): twelve hours of records handed to the edge node at once (a run
    far behind its clock); a host asks for a rebirth once the data flow. The node reads the
    NCMD and publishes its births while the flood is still being handed over (the event loop
    and the network thread are not held up by the backlog), and nothing is lost: every DDATA
    and NDATA the records make arrives, ``seq`` in order across the rebirth."""
    capture = Capture(spb_broker.port)
    host = Host(spb_broker.port)
    records = run_batch(bottling, 12 * 3600, seed=3).records
    settings = SparkplugSettings(url=spb_broker.url, max_queued=200)
    sink = SparkplugSink(PlantLayout.from_scenario(bottling), settings)
    sink.set_run(records[0].start_epoch_ms)
    await sink.start()
    try:
        node = sink.nodes["line1"]
        await async_wait(lambda: node.born, "the births")
        flood = asyncio.create_task(sink.publish(records))
        await async_wait(lambda: capture.kinds().count("DDATA") >= 500, "the first data")
        await host.rebirth()
        await async_wait(lambda: capture.kinds().count("NBIRTH") == 2, "the rebirth", 60)
        assert not flood.done(), "the rebirth came only after the whole flood"
        await flood
        sent_seq = node.seq
    finally:
        await sink.stop()
        host.stop()
    await async_wait(lambda: capture.kinds()[-1:] == ["NDEATH"], "the shutdown's NDEATH", 60)
    capture.stop()
    edge = [
        (t.split("/")[2], Payload.FromString(p))
        for t, p in capture.messages
        if t.split("/")[2] in EDGE_KINDS
    ]
    expected = 0
    for kind, payload in edge[:-1]:  # the last is the NDEATH, without seq
        expected = 0 if kind == "NBIRTH" else (expected + 1) % 256
        assert payload.seq == expected, (kind, payload.seq, expected)
    assert expected == sent_seq and edge[-1][0] == "NDEATH"
    # every DDATA/NDATA the records make (a node without network counts them) arrived
    layout = PlantLayout.from_scenario(bottling)
    made: list[str] = []
    dry = SparkplugEdgeNode(GROUP, layout.lines[0], lambda: 0, lambda t, p, q: made.append(t))
    dry.birth()
    for rec in records:
        dry.apply(rec, payloads.epoch_ms(records[0].start_epoch_ms, rec.t))
    # (the records themselves, NDATA of Twin/Record for a Sparkplug host, are not metric data)
    record_alias = next(
        m.alias for k, p in edge if k == "NBIRTH" for m in p.metrics if m.name == RECORD_METRIC
    )
    data = [
        k
        for k, p in edge
        if k in ("DDATA", "NDATA") and any(m.alias != record_alias for m in p.metrics)
    ]
    assert len(data) == sum("DATA/" in t for t in made) > 10_000


async def test_births_wait_for_the_primary_host(
    tmp_path: Path,
    spb_broker: Mosquitto,
    bottling: Scenario,
    node_stack: Path,
) -> None:
    """With a primary host configured, nothing is published until its STATE says online. A
    STATE older than the last one is ignored; an offline STATE ends the session (NDEATH, then
    DISCONNECT), the node connects again (next bdSeq) and waits for online; the shutdown sends
    the NDEATH too. All of it under a flood of DDATA, decoded by Tahu."""
    capture = Capture(spb_broker.port)
    host = Host(spb_broker.port)
    config = live_config(spb_broker.url, primary_host="scada")
    task, runner = await launch(bottling, config)
    sink = next(x for x in runner.sinks if isinstance(x, SparkplugSink))
    try:
        await async_wait(lambda: runner.model.now > 6.1 * 3600, "records")
        assert capture.kinds() == []  # connected, model running, host unknown: silence
        await host.state(True, 1000)
        await async_wait(lambda: "DDATA" in capture.kinds(), "births and data")
        kinds = [k for k in capture.kinds() if k in EDGE_KINDS]
        assert kinds[0] == "NBIRTH" and kinds[1 : 1 + 6] == ["DBIRTH"] * 6
        await host.state(False, 999)  # older than the last STATE: ignored
        await host.rebirth()
        await async_wait(lambda: capture.kinds().count("NBIRTH") == 2, "the rebirth")
        assert "NDEATH" not in capture.kinds()
        await host.state(False, 2000)
        await async_wait(lambda: "NDEATH" in capture.kinds(), "the NDEATH of the offline STATE")
        await async_wait(lambda: sink.links["line1"].connection == 2, "the new connection")
        await host.state(True, 3000)
        await async_wait(lambda: capture.kinds().count("NBIRTH") == 3, "the births")
        await async_wait(lambda: capture.kinds()[-1] == "DDATA", "data of the new session")
    finally:
        runner.stop()
        await task
        host.stop()
    await async_wait(lambda: capture.kinds().count("NDEATH") == 2, "the shutdown's NDEATH")
    capture.stop()

    edge = [(t, p) for t, p in capture.messages if t.split("/")[2] in EDGE_KINDS]
    decoded = tahu_decode(node_stack, tmp_path, edge)
    kinds = [m["topic"].split("/")[2] for m in decoded]
    assert kinds.count("NBIRTH") == 3 and kinds.count("NDEATH") == 2 and kinds[-1] == "NDEATH"
    bd_seq, expected = None, 0
    for msg in decoded:
        kind, payload = msg["topic"].split("/")[2], msg["payload"]
        if kind in ("NBIRTH", "NDEATH"):
            metrics = {m["name"]: m for m in payload["metrics"]}
            assert metrics["bdSeq"]["type"] == "Int64"
        if kind == "NBIRTH":
            expected = 0
            if bd_seq is not None:  # a rebirth keeps the bdSeq of its connection
                assert str(metrics["bdSeq"]["value"]) == bd_seq
            bd_seq = str(metrics["bdSeq"]["value"])
        elif kind == "NDEATH":  # the NBIRTH it ends has its bdSeq; nothing follows until births
            assert str(metrics["bdSeq"]["value"]) == bd_seq
            bd_seq = None
            continue
        assert bd_seq is not None, "a message after the NDEATH before the NBIRTH"
        assert int(payload["seq"]) == expected, (kind, payload["seq"], expected)
        expected = (expected + 1) % 256
    births = [m for m in decoded if m["topic"].split("/")[2] == "NBIRTH"]
    assert [
        str(next(x for x in b["payload"]["metrics"] if x["name"] == "bdSeq")["value"])
        for b in births
    ] == ["0", "0", "1"]


async def test_station_maintenance_is_a_ddeath_then_a_dbirth(
    spb_broker: Mosquitto, bottling: Scenario
) -> None:
    """A station taken out (scenario event station_maintenance) gets a DDEATH, no data while
    out, and a DBIRTH when it is back."""
    out_at, back_at = 6.2 * 3600, 7.2 * 3600
    scenario = bottling.model_copy(
        update={
            "events": [
                StationMaintenanceEvent(
                    kind="station_maintenance",
                    at=out_at,
                    duration=back_at - out_at,
                    station="capper",
                )
            ]
        }
    )
    capture = Capture(spb_broker.port)
    config = live_config(spb_broker.url, speed=1e5, until_s=7.5 * 3600)
    linger = asyncio.Event()
    task, runner = await launch(scenario, config, linger=linger)
    await asyncio.wait_for(runner.done.wait(), 60)
    await asyncio.to_thread(
        h.wait_until, lambda: capture.kinds().count("DBIRTH") == 7, 90, "the capper's DBIRTH"
    )
    linger.set()
    await task
    capture.stop()
    capper = [
        (t.split("/")[2], Payload.FromString(p))
        for t, p in capture.messages
        if t.endswith("/capper")
    ]
    kinds = [k for k, _ in capper]
    death, rebirth = kinds.index("DDEATH"), len(kinds) - 1 - kinds[::-1].index("DBIRTH")
    assert kinds[0] == "DBIRTH" and death < rebirth and kinds.count("DDEATH") == 1
    assert set(kinds[death + 1 : rebirth]) == set()  # nothing while out
    start = runner.model.start_epoch_ms
    assert capper[death][1].timestamp == payloads.epoch_ms(start, out_at)
    assert capper[rebirth][1].timestamp == payloads.epoch_ms(start, back_at)


async def test_a_broker_restart_is_a_new_session_with_the_next_bd_seq(
    spb_broker: Mosquitto, bottling: Scenario
) -> None:
    """The broker restarts under a flood of DDATA: the edge node connects again and publishes
    NBIRTH with the next bdSeq and seq 0, and nothing queued for the lost connection follows it
    (its seq would break the new session): from that NBIRTH on, seq counts 0, 1, 2, ..."""
    sub = Subscriber(spb_broker.port, [("spBv1.0/#", 1)], "spb-restart-sub", persistent=True)
    sub.start()
    config = live_config(spb_broker.url)
    task, runner = await launch(bottling, config)
    sink = next(x for x in runner.sinks if isinstance(x, SparkplugSink))
    try:
        kinds = lambda: [m.topic.split("/")[2] for m in sub.snapshot()]  # noqa: E731
        await async_wait(lambda: "DDATA" in kinds(), "data")
        await asyncio.to_thread(spb_broker.restart)
        await async_wait(lambda: sink.links["line1"].connection == 2, "the reconnect")
        await async_wait(lambda: kinds().count("NBIRTH") == 2, "the births after it")
        await async_wait(lambda: kinds()[-1] == "DDATA", "data after it")
    finally:
        runner.stop()
        await task
        sub.stop()
    messages = sub.snapshot()
    second = [i for i, m in enumerate(messages) if "/NBIRTH/" in m.topic][1]
    nbirth = Payload.FromString(messages[second].payload)
    assert [(m.name, m.long_value) for m in nbirth.metrics if m.name == "bdSeq"] == [("bdSeq", 1)]
    seqs = [
        Payload.FromString(m.payload).seq
        for m in messages[second:]
        if m.topic.split("/")[2] in EDGE_KINDS and "/NDEATH/" not in m.topic
    ]
    assert len(seqs) > 10 and seqs == [i % 256 for i in range(len(seqs))]
