"""Scenarios that would hang, exhaust memory or give a traceback are refused with the path
(issue 14 #10, #11, #12)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml

from plant_sim.scenario import ScenarioError, load_scenario, parse_scenario
from tests.plant_sim.helpers import SCENARIOS, scenario_data


def problems_of(data: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(data)
    return info.value.problems


def paths_of(data: dict[str, Any]) -> set[str]:
    return {path for path, _ in problems_of(data)}


@pytest.mark.parametrize(
    "value", [".inf", "inf", "1e400", "nan", float("inf"), float("nan"), 10**400]
)
def test_a_horizon_that_never_ends_is_refused(value: Any) -> None:
    data = scenario_data("tandem_mm1")
    data["horizon"] = value
    assert paths_of(data) == {"horizon"}


@pytest.mark.parametrize("value", ["", [], [1, 2], dt.date(2026, 1, 5), {"a": 1}])
def test_durations_of_the_wrong_kind_are_named_not_a_traceback(value: Any) -> None:
    data = scenario_data("tandem_mm1")
    data["horizon"] = value
    assert paths_of(data) == {"horizon"}


def test_an_infinite_exponential_mean_is_refused() -> None:
    data = scenario_data("bottling_line")
    data["lines"][0]["stations"][1]["failures"][0]["tbf"] = {
        "kind": "exponential",
        "mean": float("inf"),
    }
    assert paths_of(data) == {"lines[0].stations[1].failures[0].tbf.mean"}


def test_orders_arriving_without_end_at_one_instant_are_refused() -> None:
    data = scenario_data("bottling_line")
    data["demand"]["interarrival"] = {"kind": "constant", "value": 0}
    assert paths_of(data) == {"demand.interarrival"}


def test_a_calendar_with_every_day_off_is_refused() -> None:
    data = scenario_data("bottling_line")
    data["calendar"]["days_off"] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    assert paths_of(data) == {"calendar.days_off"}


def test_surge_factor_sample_period_and_order_quantities_are_bounded() -> None:
    data = scenario_data("bottling_line")
    data["events"] = [
        {"kind": "demand_surge", "at": "1h", "duration": "1h", "factor": float("inf")},
        {"kind": "demand_surge", "at": "1h", "duration": "1h", "factor": 1e300},
    ]
    data["telemetry"]["sample_period"] = 1e-9
    data["demand"]["schedule"] = [
        {"at": 0, "product": "cola_05l", "quantity": 10**12, "due_in": "1d"}
    ]
    assert paths_of(data) == {
        "events[0].factor",
        "events[1].factor",
        "telemetry.sample_period",
        "demand.schedule[0].quantity",
    }
    data = scenario_data("bottling_line")  # cross-reference checks run on a schema-valid file
    data["demand"]["quantity"] = {"kind": "constant", "value": 1e9}
    assert paths_of(data) == {"demand.quantity"}


def test_station_ids_that_differ_only_in_case_are_refused() -> None:
    data = scenario_data("tandem_mm1")
    data["lines"][0]["stations"][1]["id"] = data["lines"][0]["stations"][0]["id"].upper()
    [(path, message)] = problems_of(data)
    assert path == "lines" and "differ only in case" in message


def test_a_buffer_id_used_twice_in_a_line_is_refused() -> None:
    """twin validate said ok; twin sim then ended in asyncua's BadNodeIdExists traceback
    (each buffer is the OPC UA node LINE.Buffers.ID), and its levels shared one series."""
    data = scenario_data("tandem_mm1")
    data["lines"][0]["buffers"][1]["id"] = data["lines"][0]["buffers"][0]["id"]
    [(path, message)] = problems_of(data)
    assert path == "lines[0].buffers" and "buffer id 'q2' is used twice" in message


def test_encodings_that_are_not_utf8_are_named(tmp_path: Path) -> None:
    text = (SCENARIOS / "tandem_mm1.yaml").read_text()
    for name, raw, words in (
        ("utf16.yaml", text.encode("utf-16"), "UTF-16"),
        ("latin1.yaml", ("# café\n" + text).encode("latin-1"), "not UTF-8"),
    ):
        (tmp_path / name).write_bytes(raw)
        with pytest.raises(ScenarioError) as info:
            load_scenario(tmp_path / name)
        [(where, message)] = info.value.problems
        assert where == "(file)" and words in message
    (tmp_path / "bom.yaml").write_bytes(b"\xef\xbb\xbf" + text.encode())
    assert load_scenario(tmp_path / "bom.yaml").name == "tandem_mm1"


def test_deep_nesting_and_alias_bombs_are_refused_without_recursion(tmp_path: Path) -> None:
    deep = tmp_path / "deep.yaml"
    deep.write_text("name: " + "[" * 5000 + "]" * 5000 + "\n")
    bomb = tmp_path / "bomb.yaml"
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    bomb.write_text("\n".join(lines) + "\n")
    for path, words in ((deep, "deep"), (bomb, "values")):
        with pytest.raises(ScenarioError) as info:
            load_scenario(path)
        [(where, message)] = info.value.problems
        assert where == "(yaml)" and words in message


def test_a_key_given_twice_is_an_error_naming_the_key(tmp_path: Path) -> None:
    path = tmp_path / "dup.yaml"
    path.write_text((SCENARIOS / "tandem_mm1.yaml").read_text() + "\nhorizon: 1d\n")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    [(where, message)] = info.value.problems
    assert where == "(yaml)" and "duplicate key 'horizon'" in message


def test_the_example_scenarios_still_load_unchanged() -> None:
    for path in sorted(SCENARIOS.glob("*.yaml")):
        assert (
            load_scenario(path).model_dump()
            == parse_scenario(yaml.safe_load(path.read_text())).model_dump()
        )


def test_a_control_character_in_the_file_is_named_not_a_traceback(tmp_path: Path) -> None:
    """Found by the fuzz suite: PyYAML's reader raised while the loader was being made."""
    path = tmp_path / "nul.yaml"
    path.write_bytes(b"name: a\x00b\n")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    [(where, message)] = info.value.problems
    assert where == "(yaml)" and "#x0000" in message


@pytest.mark.parametrize(
    "start", ["1969-12-31T00:00:00Z", "2262-04-05T00:00:00Z", "9000-01-01T00:00:00Z"]
)
def test_a_start_time_whose_timestamps_cannot_be_stored_is_refused(start: str) -> None:
    data = scenario_data("tandem_mm1")  # a horizon of 10 days
    data["start_time"] = start
    assert paths_of(data) == {"start_time"}


def test_an_order_quantity_that_would_reorder_without_end_is_refused() -> None:
    """Found while probing the supply model: order_quantity 1e-300 looped in one instant."""
    data = scenario_data("bottling_line")
    data["supply"]["materials"][0]["order_quantity"] = 1e-300
    assert paths_of(data) == {"supply.materials[0].order_quantity"}
    data["supply"]["materials"][0]["order_quantity"] = 16  # reorder point 15000: under 1000 orders
    assert parse_scenario(data).supply is not None


@pytest.mark.parametrize(
    ("dist", "problem"),
    [
        ({"kind": "lognormal", "mean": 1e-300, "sd": 1}, "lognormal needs sd <= 1e+150 * mean"),
        (
            {"kind": "empirical", "values": [1, 2], "weights": [1e308, 1e308]},
            "empirical weights are too large",
        ),
        (
            {"kind": "empirical", "values": [100, 1], "weights": [1e307, 1]},
            "empirical weights are too large",
        ),
    ],
)
def test_distributions_whose_sampler_would_overflow_are_refused(
    dist: dict[str, Any], problem: str
) -> None:
    """They passed twin validate, then the run died building its sampler (OverflowError,
    'Total of weights must be finite') or gave an infinite planned cycle time."""
    data = scenario_data("tandem_mm1")
    data["lines"][0]["stations"][1]["cycle_time"] = dist
    [(path, message)] = problems_of(data)
    assert path == "lines[0].stations[1].cycle_time" and problem in message


def test_times_too_short_to_move_the_clock_are_refused() -> None:
    """A mean of 1e-300 s passed the zero check; a one-station line then made parts at one
    instant until memory ran out (twin run --until 1s: killed)."""
    data = scenario_data("tandem_mm1")
    data["lines"][0]["stations"][0]["cycle_time"] = {"kind": "constant", "value": 1e-300}
    data["lines"][0]["stations"][1]["failures"] = [
        {"tbf": {"kind": "exponential", "mean": 1e-7}, "ttr": {"kind": "constant", "value": 0}}
    ]
    data["demand"]["interarrival"] = {"kind": "constant", "value": 1e-9}
    problems = problems_of(data)
    assert {path for path, _ in problems} == {
        "lines[0].stations[0].cycle_time",
        "lines[0].stations[1].failures[0].tbf",
        "demand.interarrival",
    }
    assert all("at least 1e-06 s" in message for _, message in problems)
    data = scenario_data("tandem_mm1")
    data["lines"][0]["stations"][0]["cycle_time"] = {"kind": "constant", "value": 1e-6}
    parse_scenario(data)


@pytest.mark.parametrize("value", [True, "7", 7.0])
def test_a_seed_that_is_no_integer_is_refused(value: Any) -> None:
    """``seed: true`` ran as seed 1, ``"7"`` as 7: pydantic's lax mode took them."""
    assert paths_of({**scenario_data("tandem_mm1"), "seed": value}) == {"seed"}
