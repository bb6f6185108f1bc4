"""Bad scenarios are rejected with messages that name the path of every problem."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from plant_sim.scenario import ScenarioError, json_schema, load_scenario, parse_scenario
from tests.plant_sim.helpers import SCENARIOS, scenario_data


def problems_of(data: dict) -> list[tuple[str, str]]:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(data)
    return info.value.problems


def test_every_example_scenario_is_valid() -> None:
    for path in sorted(SCENARIOS.glob("*.yaml")):
        assert load_scenario(path).name == path.stem


def test_unknown_key_names_its_path() -> None:
    data = scenario_data("bottling_line")
    data["lines"][0]["stations"][2]["failures"][0]["mtbf"] = 5
    paths = [p for p, _ in problems_of(data)]
    assert "lines[0].stations[2].failures[0].mtbf" in paths


def test_negative_time_names_its_path() -> None:
    data = scenario_data("bottling_line")
    data["lines"][0]["stations"][1]["failures"][0]["ttr"] = {"kind": "exponential", "mean": -3}
    problems = problems_of(data)
    assert problems[0][0] == "lines[0].stations[1].failures[0].ttr.mean"
    assert "greater than" in problems[0][1]


def test_reference_to_missing_station_names_its_path() -> None:
    data = scenario_data("bottling_line")
    data["calendar"]["maintenance"][0]["stations"] = ["no_such_station"]
    assert problems_of(data) == [
        ("calendar.maintenance[0].stations[0]", "no station 'no_such_station'")
    ]


def test_bad_distribution_kind_names_its_path() -> None:
    data = scenario_data("bottling_line")
    data["lines"][0]["stations"][0]["cycle_time"] = {"kind": "gamma", "mean": 2}
    path, message = problems_of(data)[0]
    assert path == "lines[0].stations[0].cycle_time"
    assert "gamma" in message and "exponential" in message


def test_inconsistent_distribution_parameters_are_rejected() -> None:
    data = scenario_data("bottling_line")
    data["lines"][0]["stations"][0]["cycle_time"] = {
        "kind": "triangular",
        "low": 5,
        "mode": 2,
        "high": 9,
    }
    path, message = problems_of(data)[0]
    assert path == "lines[0].stations[0].cycle_time"
    assert "low <= mode <= high" in message


def test_times_that_would_stop_the_clock_are_rejected() -> None:
    data = scenario_data("bottling_line")
    station = data["lines"][0]["stations"][1]
    station["cycle_times"]["cola_05l"] = {"kind": "constant", "value": 0}
    station["failures"][0]["tbf"] = {"kind": "empirical", "values": [0, 0]}
    paths = {p for p, m in problems_of(data) if "greater than 0" in m}
    assert paths == {
        "lines[0].stations[1].cycle_times.cola_05l",
        "lines[0].stations[1].failures[0].tbf",
    }


def test_wrong_buffer_count_and_missing_product_cycle_time() -> None:
    data = scenario_data("bottling_line")
    data["lines"][0]["buffers"].pop()
    del data["lines"][0]["stations"][1]["cycle_times"]["cola_15l"]
    paths = {p for p, _ in problems_of(data)}
    assert {"lines[0].buffers", "lines[0].stations[1].cycle_times"} <= paths


def test_duration_strings_are_parsed_and_bad_ones_named() -> None:
    data = scenario_data("tandem_mm1")
    assert parse_scenario(data).horizon == 10 * 86400
    data["horizon"] = "ten days"
    path, message = problems_of(data)[0]
    assert path == "horizon" and "not a duration" in message


def test_unreadable_and_non_yaml_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match=r"missing\.yaml"):
        load_scenario(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("lines: [unclosed\n")
    with pytest.raises(ScenarioError, match=r"\(yaml\)"):
        load_scenario(bad)


def test_published_json_schema_is_current() -> None:
    committed = json.loads((SCENARIOS / "scenario.schema.json").read_text())
    assert committed == json.loads(json.dumps(json_schema())), (
        "scenarios/scenario.schema.json is stale: "
        "run `twin schema --out scenarios/scenario.schema.json`"
    )


def test_schema_describes_the_example_files() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json_schema()
    for path in SCENARIOS.glob("*.yaml"):
        data = yaml.safe_load(path.read_text())
        as_json = json.loads(json.dumps(data, default=lambda value: value.isoformat()))
        jsonschema.validate(as_json, schema)
