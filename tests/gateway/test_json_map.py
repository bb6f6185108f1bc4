"""The generic MQTT JSON mapping (pure): presets, topic patterns, bad input named."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.json_map import JsonMapError, JsonTranslator, load_json_mapping, parse_json_mapping
from gateway.machinery_map import MappingError
from plant_sim.records import PartDone, RunStart, StateChange

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "mqtt" / "umh_line.yaml"
BASE = {
    "enterprise": "acme",
    "site": "plant1",
    "area": "assembly",
    "topic": "factory/{line}/{station}/status",
    "timestamp": {"field": "ts", "unit": "iso"},
    "state": {"field": "state", "values": {"RUN": "processing", "1": "down", "true": "idle"}},
    "counts": {"good": {"field": "parts", "cumulative": False}},
    "stations": [{"line": "l1", "station": "s1", "planned_cycle_time_s": 10}],
}


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"preset": "nope"}, "preset"),
        ({"topic": "factory/{line}/status"}, "{station}"),
        ({"topic": "factory/#/{line}/{station}"}, "level '#'"),
        ({"timestamp": {"field": "ts", "unit": "fortnights"}}, "timestamp"),
        ({"state": {"field": "state", "values": {"RUN": "sleeping"}}}, "state.values.RUN"),
        ({"counts": {"rework": {"field": "r"}}}, "counts"),
        ({"counts": {"good": {"field": "p", "cumulative": "yes"}}}, "counts.good.cumulative"),
        ({"stations": [{"line": "l1", "station": "s 1", "planned_cycle_time_s": 1}]}, "station"),
        ({"stations": []}, "stations"),
        ({"state": None, "counts": {}}, "nothing would be recorded"),
    ],
)
def test_bad_mappings_name_the_field(change: dict, needle: str) -> None:
    data = {k: v for k, v in {**BASE, **change}.items() if v is not None}
    with pytest.raises(MappingError) as info:
        parse_json_mapping(data)
    assert needle in str(info.value)


def test_umh_preset_example() -> None:
    mapping = load_json_mapping(EXAMPLE)
    assert mapping.topic_filter == "umh/v1/+/+/+/+/+/+/_historian/#"
    assert (mapping.timestamp_field, mapping.timestamp_unit) == ("timestamp_ms", "ms")
    tr = JsonTranslator(mapping, "mqtt://x")
    topic = "umh/v1/acme/plant1/assembly/line1/cell02/plc/_historian/oee"
    first = tr.translate(topic, b'{"timestamp_ms": 1000, "machine_state": "off"}', 0)
    assert isinstance(first[0], RunStart) and first[0].start_epoch_ms == 1000
    assert [r.state.value for r in first if isinstance(r, StateChange)] == ["off_shift"]


def test_translation_of_values_and_bad_messages() -> None:
    tr = JsonTranslator(parse_json_mapping(BASE), "mqtt://x")
    recs = tr.translate(
        "factory/l1/s1/status", b'{"ts": "2026-01-05T06:00:00Z", "state": "RUN", "parts": 2}', 5
    )
    assert [type(r).__name__ for r in recs] == ["RunStart", "StateChange", "PartDone", "PartDone"]
    start = recs[0].start_epoch_ms
    later = tr.translate("factory/l1/s1/status", b'{"ts": "2026-01-05T06:00:10Z", "state": 1}', 0)
    assert [(r.t, r.state.value) for r in later if isinstance(r, StateChange)] == [(10.0, "down")]
    flag = tr.translate("factory/l1/s1/status", b'{"ts": "2026-01-05T06:00:11Z", "state": true}', 0)
    assert [r.state.value for r in flag if isinstance(r, StateChange)] == ["idle"]
    more = tr.translate("factory/l1/s1/status", b'{"ts": "2026-01-05T06:00:20Z", "parts": 1}', 0)
    assert [(r.t, r.part_id) for r in more if isinstance(r, PartDone)] == [(20.0, "s1-3")]
    assert start == 1767592800000
    bad = [
        ("other/l1/s1/status", b"{}", "topic"),
        ("factory/l1/s9/status", b'{"ts": "2026-01-05T06:00:20Z"}', "station"),
        ("factory/l1/s1/status", b'{"ts": "2026-01-05T06:00:20"}', "with a time zone"),
        ("factory/l1/s1/status", b'{"ts": 5}', "ts: expected a timestamp"),
        ("factory/l1/s1/status", b'{"ts": "2026-01-05T06:00:20Z", "state": "X"}', "not mapped"),
        ("factory/l1/s1/status", b'{"ts": "2026-01-05T06:00:20Z", "parts": -1}', "parts"),
        ("factory/l1/s1/status", b'{"ts": "2026-01-05T06:00:20Z", "parts": 1.5}', "parts"),
        ("factory/l1/s1/status", b"[1, 2]", "JSON object"),
        ("factory/l1/s1/status", b"x" * 70_000, "bytes"),
    ]
    for topic, payload, needle in bad:
        with pytest.raises(JsonMapError) as info:
            tr.translate(topic, payload, 0)
        assert needle in str(info.value), (payload[:40], info.value)
    huge = b'{"ts": "2026-01-05T06:00:30Z", "parts": 1000000000}'
    assert tr.translate("factory/l1/s1/status", huge, 0) == []  # no flood of parts
