"""Bad input is counted and set aside with its reason; the gateway keeps running and storing."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from gateway.deadletter import read_dead_letters
from plant_sim import payloads
from plant_sim.records import PartDone, RunStart, StateChange
from plant_sim.states import StationState
from tests.gateway import helpers as h
from tests.servers.influxdb import InfluxServer
from tests.servers.mosquitto import Mosquitto

pytestmark = pytest.mark.integration

START = 1_767_571_200_000
LINE, ST = "line 1,a=b", 'stä"tion x'
RUN = RunStart(
    0.0,
    "bad-run",
    "sc",
    1,
    START,
    None,
    "acme",
    "plant1",
    "bottling",
    [{"line": LINE, "stations": [ST], "buffers": []}],
)


def test_bad_input_is_set_aside_and_good_input_stored(
    tmp_path: Path, influxd: InfluxServer, influx_db: str, broker: Mosquitto
) -> None:
    gw = h.start_gateway(h.settings(tmp_path, influxd, influx_db, mqtt_url=broker.url))
    pub = h.connect_publisher(broker.port)
    try:
        good = (
            [RUN]
            + [
                StateChange(float(i), LINE, ST, StationState.PROCESSING, 'r "q"', 1.0, "ü,=x")
                for i in range(1, 6)
            ]
            + [PartDone(7.0, LINE, ST, "p=1", "ü,=x", None, "good", 1.0, 1.0)]
        )
        h.publish(pub, good[:3], "bad-run", START)
        h.wait_stored(influxd, influx_db, 3)  # the run is known before the bad input arrives
        state = orjson.loads(payloads.encode(good[1], "bad-run", START))
        topic = "acme/plant1/bottling/line_1_a_b/st_tion_x/state"
        bad = [
            b"{not json",
            b"\xff\xfe",
            orjson.dumps({**state, "t": "later"}),  # wrong type
            orjson.dumps({**state, "power_kw": None}),  # null where a number belongs
            orjson.dumps({**state, "station": "ghost"}),  # unknown station
            orjson.dumps({**state, "kind": "teleport"}),  # unknown kind
            b'{"pad": "' + b"x" * (payloads.MAX_PAYLOAD_BYTES + 10) + b'"}',  # oversized
            orjson.dumps({**state, "line": "li\\ne"}),  # backslash name: not portable
        ]
        for body in bad:
            pub.publish(topic, body, 1).wait_for_publish(10)
        h.publish(pub, good[3:], "bad-run", START)
        h.wait_stored(influxd, influx_db, len(good))
        h.wait_until(
            lambda: gw.stats.snapshot()["mqtt"]["dead_lettered"] == len(bad),
            10,
            "dead letters counted",
        )
        h.assert_same_records(good, h.read_stored(influxd, influx_db, "bad-run"))
        assert gw.failure() is None
    finally:
        pub.disconnect()
        gw.stop()
    letters = read_dead_letters(tmp_path / "gw" / "dead_letters.jsonl")
    reasons = [d["reason"] for d in letters]
    assert len(letters) == len(bad)
    assert reasons[0].startswith("payload: not JSON")
    assert reasons[2].startswith("t:") and reasons[3].startswith("power_kw:")
    assert reasons[4].startswith("station:") and reasons[5].startswith("kind:")
    assert "limit" in reasons[6] and letters[6]["size"] > payloads.MAX_PAYLOAD_BYTES
    assert reasons[7].startswith("line:")
    assert all(d["topic"] == topic and d["source"] == "mqtt" for d in letters)


def test_a_time_no_timestamp_can_carry_is_a_dead_letter_even_retained(
    tmp_path: Path, influxd: InfluxServer, influx_db: str, broker: Mosquitto
) -> None:
    """``t`` = ±1e308 once stopped the ingest thread for good (OverflowError), on every restart
    and in a brand-new gateway too when the message was retained."""
    state = StateChange(1.0, LINE, ST, StationState.PROCESSING, None, 1.0)
    parts = [PartDone(2.0 + i, LINE, ST, f"p{i}", "x", None, "good", 1.0, 1.0) for i in range(6)]
    state_topic = payloads.route(state, "acme", "plant1", "bottling")[0]
    part_topic = payloads.route(parts[0], "acme", "plant1", "bottling")[0]
    poison_state = orjson.dumps(
        {**orjson.loads(payloads.encode(state, "bad-run", START)), "t": 1e308}
    )
    poison_part = orjson.dumps(
        {**orjson.loads(payloads.encode(parts[0], "bad-run", START)), "t": -1e308}
    )
    pub = h.connect_publisher(broker.port)
    first = h.start_gateway(h.settings(tmp_path / "a", influxd, influx_db, mqtt_url=broker.url))
    try:
        h.publish(pub, [RUN, state], "bad-run", START)
        h.wait_stored(influxd, influx_db, 2)
        pub.publish(state_topic, poison_state, 1, retain=True).wait_for_publish(10)
        pub.publish(part_topic, poison_part, 1).wait_for_publish(10)
        h.publish(pub, parts[:3], "bad-run", START)
        h.wait_stored(influxd, influx_db, 5, timeout_s=30)
        h.wait_until(lambda: first.stats.snapshot()["mqtt"]["dead_lettered"] == 2, 10, "2 letters")
        assert first.failure() is None
    finally:
        first.stop()
    fresh = h.settings(
        tmp_path / "b", influxd, influx_db, mqtt_url=broker.url, mqtt_client_id="gw-b"
    )
    second = h.start_gateway(fresh)  # gets the retained run_start and the retained poison
    try:
        h.publish(pub, parts[3:], "bad-run", START)
        h.wait_stored(influxd, influx_db, 2 + len(parts), timeout_s=30)
        h.wait_until(lambda: second.stats.snapshot()["mqtt"]["dead_lettered"] == 1, 10, "1 letter")
        assert second.failure() is None
    finally:
        pub.disconnect()
        second.stop()
    h.assert_same_records([RUN, state, *parts], h.read_stored(influxd, influx_db, "bad-run"))
    for data_dir, count in (("a", 2), ("b", 1)):
        letters = read_dead_letters(tmp_path / data_dir / "gw" / "dead_letters.jsonl")
        assert len(letters) == count
        assert all(d["reason"].startswith("t: ") for d in letters), letters
