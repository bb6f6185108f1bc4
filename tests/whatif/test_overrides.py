"""Overrides by path: by id, by index, wildcards, and errors that name the path."""

from __future__ import annotations

import copy

import pytest
import yaml

from analytics.whatif import OverrideError, apply_overrides, parse_path
from tests.whatif.conftest import SCENARIOS


@pytest.fixture(scope="module")
def plant() -> dict:
    return yaml.safe_load((SCENARIOS / "plant_3lines.yaml").read_text())


def test_paths_parse_into_keys_ids_indexes_and_wildcards() -> None:
    assert parse_path("lines[0].buffers[1].capacity") == ("lines", 0, "buffers", 1, "capacity")
    assert parse_path("lines.*.stations[*].setup") == ("lines", "*", "stations", "*", "setup")
    assert parse_path("lines[assembly_a].id") == ("lines", "assembly_a", "id")


@pytest.mark.parametrize("path", ["", "a..b", "a.[]", "lines[0"])
def test_malformed_paths_are_refused(path: str) -> None:
    with pytest.raises(OverrideError):
        parse_path(path)


def test_list_items_are_addressed_by_id_or_by_index(plant: dict) -> None:
    out = apply_overrides(
        plant, {"lines.assembly_a.buffers.a_b2.capacity": 20, "lines[1].buffers[0].capacity": 3}
    )
    assert out["lines"][0]["buffers"][1] == {"id": "a_b2", "capacity": 20}
    assert out["lines"][1]["buffers"][0] == {"id": "b_b1", "capacity": 3}


def test_items_without_an_id_are_addressed_by_name(plant: dict) -> None:
    out = apply_overrides(
        plant,
        {
            "calendar.shifts.night.end": "05:00",
            "lines.assembly_a.stations.a_press.failures.breakdown.ttr.mean": "20m",
        },
    )
    assert out["calendar"]["shifts"][2] == {"name": "night", "start": "22:00", "end": "05:00"}
    assert out["lines"][0]["stations"][0]["failures"][0]["ttr"]["mean"] == "20m"


def test_the_input_is_never_changed(plant: dict) -> None:
    before = copy.deepcopy(plant)
    apply_overrides(plant, {"lines.assembly_a.buffers.a_b2.capacity": 99, "seed": 5})
    assert plant == before


def test_a_wildcard_changes_only_items_that_have_the_key(plant: dict) -> None:
    """Stations without a setup keep none: a wildcard never adds a key."""
    setup = {"kind": "constant", "value": 60}
    out = apply_overrides(plant, {"lines.*.stations.*.setup": setup})
    stations = [s for line in out["lines"] for s in line["stations"]]
    before = [s for line in plant["lines"] for s in line["stations"]]
    assert [s.get("setup") is not None for s in stations] == [
        s.get("setup") is not None for s in before
    ]
    assert all(s["setup"] == setup for s in stations if s.get("setup"))


def test_a_missing_final_key_is_set_and_a_whole_value_replaced(plant: dict) -> None:
    out = apply_overrides(plant, {"release.lot_size": 50, "calendar.days_off": []})
    assert out["release"] == {"rule": "edd", "lot_size": 50}
    assert out["calendar"]["days_off"] == []


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("lines.L9.buffers.B2.capacity", "lines: no item with id 'L9' (known: assembly_a"),
        ("lines[7].id", "lines: index [7] out of range (the list has 3 items)"),
        (
            "lines.assembly_a.stations.a_press.minor_stops.tbs.mean",
            "lines.assembly_a.stations.a_press.minor_stops: is not set in the scenario",
        ),
        ("seed.x", "seed: holds the value 1, not a mapping or list"),
        ("demand[0]", "demand: is a mapping, not a list"),
        ("lines.*.nothing.here", "the wildcard matched nothing"),
    ],
)
def test_errors_name_the_override_and_where_it_stopped(
    plant: dict, path: str, message: str
) -> None:
    with pytest.raises(OverrideError) as info:
        apply_overrides(plant, {path: 1})
    assert info.value.path == path
    assert message in str(info.value)
