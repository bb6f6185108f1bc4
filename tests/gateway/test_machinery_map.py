"""The Machinery mapping file and translator (pure): bad input named, counters, state table."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.machinery_map import (
    MAX_STEP,
    MachineryTranslator,
    MappingError,
    load_mapping,
    parse_mapping,
)
from plant_sim.records import PartDone, StateChange
from twin.cli import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "docs" / "machinery" / "press_shop.yaml"
BASE = {
    "enterprise": "acme",
    "site": "plant2",
    "area": "pressing",
    "machines": [{"machine": "Press7", "line": "l1", "station": "p7", "planned_cycle_time_s": 20}],
}


def with_machine(**changes: object) -> dict:
    return {**BASE, "machines": [{**BASE["machines"][0], **changes}]}


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ([], "expected a table"),
        ({**BASE, "machines": []}, "machines: expected a non-empty list"),
        ({**BASE, "site": "a/b"}, "site"),
        (with_machine(planned_cycle_time_s=0), "machines[0].planned_cycle_time_s"),
        (with_machine(planned_cycle_time_s=True), "machines[0].planned_cycle_time_s"),
        (with_machine(station="x+y"), "machines[0].station"),
        (with_machine(counters={"rework": "di:X"}), "machines[0].counters"),
        (with_machine(counters={"good": "NoNamespace"}), "machines[0].counters.good"),
        (with_machine(colour="red"), "unknown field 'colour'"),
        ({**BASE, "machines": BASE["machines"] * 2}, "mapped twice"),
        ({**BASE, "states": {"Running/Processing": "processing"}}, "states"),
        ({**BASE, "states": {"Executing/Setup": "dancing"}}, "states.Executing/Setup"),
    ],
)
def test_bad_mappings_name_the_field(data: object, needle: str) -> None:
    with pytest.raises(MappingError, match=None) as info:
        parse_mapping(data)
    assert needle in str(info.value)


def test_example_mapping_loads_and_a_bad_file_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mapping = load_mapping(EXAMPLE)
    good, scrap = (mapping.machines[0].counters[k] for k in ("good", "scrap"))
    assert good == (("urn:acme:press", "Counters"), ("urn:acme:press", "Good"))
    assert scrap[-1] == ("urn:acme:press", "Scrap")
    bad = tmp_path / "map.yaml"
    bad.write_text("enterprise: acme\nsite: s\narea: a\nmachines: [{machine: M}]\n")
    code = main(
        [
            "gateway",
            "--influx-url",
            "http://127.0.0.1:9",
            "--opcua-endpoint",
            "opc.tcp://127.0.0.1:9/x",
            "--opcua-mapping",
            str(bad),
        ]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "opcua_mapping" in err and "machines[0].planned_cycle_time_s" in err


def test_translator_counts_states_and_resets() -> None:
    tr = MachineryTranslator(parse_mapping(BASE), 1_000_000, "opc.tcp://x")
    assert tr.run_id == "machinery-1000000"
    assert tr.run_start().lines == [{"line": "l1", "stations": ["p7"], "buffers": []}]
    assert tr.counter("Press7", "good", 7, 1_000_000) == []  # the baseline
    parts = tr.counter("Press7", "good", 9, 1_005_000)
    assert [(p.t, p.result, p.part_id) for p in parts if isinstance(p, PartDone)] == [
        (5.0, "good", "p7-1"),
        (5.0, "good", "p7-2"),
    ]
    assert tr.counter("Press7", "good", 3, 1_006_000) == []  # a reset: new baseline
    assert len(tr.counter("Press7", "good", 4, 1_007_000)) == 1
    assert tr.counter("Press7", "good", 4 + MAX_STEP + 1, 1_008_000) == []  # no flood
    first = tr.state("Press7", 1_000_000, item_state=3, mode=3)
    assert [(r.t, r.state.value) for r in first if isinstance(r, StateChange)] == [
        (0.0, "processing")
    ]
    assert tr.state("Press7", 1_001_000, mode=0) == []  # Executing/None is processing too
    later = tr.state("Press7", 999_000, item_state=1)  # stamped before the last change (t=0)
    assert [(r.t, r.state.value, r.reason) for r in later if isinstance(r, StateChange)] == [
        (0.0, "down", "OutOfService/None")
    ]
    assert tr.mapping.state_of(9, 3).value == "down"  # a number outside 0-3: OutOfService


def test_state_overrides() -> None:
    mapping = parse_mapping({**BASE, "states": {"NotExecuting/Processing": "starved"}})
    assert mapping.state_of(2, 3).value == "starved"
    assert mapping.state_of(2, 0).value == "idle"
    assert mapping.state_of(0, 3).value == "off_shift"
    assert mapping.state_of(1, 1).value == "planned_downtime"
