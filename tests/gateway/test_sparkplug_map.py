"""The Sparkplug mapping of foreign edge nodes (pure): bad files named, values -> records."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.machinery_map import MappingError
from gateway.settings import GatewaySettings
from gateway.sparkplug_map import (
    SparkplugMapError,
    SparkplugTranslator,
    load_sparkplug_mapping,
    parse_sparkplug_mapping,
)
from plant_sim.records import PartDone, RunStart, StateChange

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "sparkplug" / "plc_line.yaml"
BASE = {
    "enterprise": "acme",
    "site": "plant1",
    "area": "packaging",
    "state": {"metric": "State", "values": {1: "processing", "STOP": "down"}},
    "counts": {"good": {"metric": "Good"}, "scrap": {"metric": "Bad", "cumulative": False}},
    "stations": [
        {"group": "G", "edge_node": "N", "device": "D", "line": "l1", "station": "s1",
         "planned_cycle_time_s": 5},
        {"group": "G", "edge_node": "N2", "line": "l1", "station": "s2", "planned_cycle_time_s": 5},
    ],
}  # fmt: skip
KEY = ("G", "N", "D")


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"state": {"field": "State", "values": {1: "processing"}}}, "state: expected {metric"),
        ({"state": {"metric": "State", "values": {1: "sleeping"}}}, "state.values.1"),
        ({"counts": {"good": {"metric": 3}}}, "counts.good"),
        ({"stations": [{**BASE["stations"][0], "device": "a/b"}]}, "stations[0].device"),
        ({"stations": [{**BASE["stations"][0], "group": None}]}, "stations[0].group"),
        ({"stations": [{**BASE["stations"][0], "planned_cycle_time_s": 0}]}, "planned_cycle"),
        ({"state": None, "counts": {}}, "nothing would be recorded"),
    ],
)
def test_bad_mappings_name_the_field(change: dict, needle: str) -> None:
    with pytest.raises(MappingError) as err:
        parse_sparkplug_mapping({**BASE, **change})
    assert needle in str(err.value)


def test_example_file_and_settings() -> None:
    mapping = load_sparkplug_mapping(EXAMPLE)
    assert mapping.machines[("Plant1", "PLC7", "Capper")] == "line2/capper"
    with pytest.raises(ValueError, match="sparkplug_mapping needs mqtt_format sparkplug"):
        GatewaySettings(
            influx_url="http://127.0.0.1:1",
            mqtt_url="mqtt://127.0.0.1:1",
            sparkplug_mapping=EXAMPLE,
        )


def test_values_become_records_in_metric_time_order() -> None:
    tr = SparkplugTranslator(parse_sparkplug_mapping(BASE), "mqtt://x")
    assert tr.maps(KEY) and tr.maps(("G", "N2", None)) and not tr.maps(("G", "N", None))
    t0 = 1_767_592_800_000
    birth = tr.translate(KEY, [("State", 1, t0), ("Good", 10, t0), ("Other", 2.5, t0)], t0)
    assert isinstance(birth[0], RunStart) and birth[0].start_epoch_ms == t0
    assert [type(r) for r in birth] == [RunStart, StateChange]  # 10 good: the baseline
    # a message's metrics in timestamp order; no timestamp: the time received
    out = tr.translate(KEY, [("State", "STOP", t0 + 3000), ("Good", 12, t0 + 1000)], t0)
    out += tr.translate(KEY, [("Bad", 2, None)], t0 + 4000)
    assert [(type(r).__name__, r.t) for r in out] == [
        ("PartDone", 1.0),
        ("PartDone", 1.0),
        ("StateChange", 3.0),
        ("PartDone", 4.0),
        ("PartDone", 4.0),
    ]
    assert [r.result for r in out if isinstance(r, PartDone)] == ["good", "good", "scrap", "scrap"]
    assert tr.number(birth) == [0, 1] and tr.number(out) == [2, 3, 4, 5, 6]
    with pytest.raises(SparkplugMapError, match="State: value '9' not mapped"):
        tr.translate(KEY, [("Good", 20, t0 + 5000), ("State", 9, t0 + 5000)], t0)
    assert tr.translate(KEY, [("Good", 13, t0 + 6000)], t0)[0].t == 6.0  # 20 was not taken
