"""Property tests of the scenario loader (issue 14, fuzz suite).

Whatever the file holds (bytes, any YAML, an example scenario with one value replaced by
something hostile), ``load_scenario`` returns a scenario or raises ``ScenarioError``: never
another exception, and no accepted scenario has a non-finite or out-of-bounds time.
"""

from __future__ import annotations

import copy
import datetime as dt
import math
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plant_sim.durations import MAX_SECONDS
from plant_sim.scenario import Scenario, ScenarioError, load_scenario, parse_scenario
from tests.plant_sim.helpers import scenario_data

FUZZ = settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
BASE = scenario_data("bottling_line")

HOSTILE = st.one_of(
    st.sampled_from(
        [
            float("inf"),
            float("-inf"),
            float("nan"),
            1e308,
            -1e308,
            5e-324,
            -0.0,
            0,
            -1,
            10**30,
            "",
            ".inf",
            "inf",
            "nan",
            "1e400",
            "8h",
            "-5m",
            "S1",
            "s1",
            "a\\b",
            "a\nb",
            "x" * 70_000,
            [],
            [1, 2],
            {},
            {"kind": "constant", "value": 0},
            {"kind": "exponential", "mean": 1e-300},
            None,
            True,
            dt.date(2026, 1, 5),
        ]
    ),
    st.integers(),
    st.floats(),
    st.text(max_size=20),
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value in the parsed example (mapping keys and list indexes)."""
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out += _paths(value, (*prefix, i))
    return out


PATHS = _paths(BASE)


def _replace(data: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    data = copy.deepcopy(data)
    node = data
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return data


def _times_are_sane(scenario: Scenario) -> None:
    assert 0 < scenario.horizon <= MAX_SECONDS
    assert math.isfinite(scenario.telemetry.sample_period) and scenario.telemetry.sample_period > 0


@FUZZ
@given(changes=st.lists(st.tuples(st.sampled_from(PATHS), HOSTILE), min_size=1, max_size=3))
def test_an_example_with_hostile_values_is_a_scenario_or_a_scenario_error(
    changes: list[tuple[tuple[Any, ...], Any]],
) -> None:
    data = BASE
    for path, value in changes:
        try:
            data = _replace(data, path, value)
        except (KeyError, IndexError, TypeError):  # an earlier change removed the path
            continue
    try:
        scenario = parse_scenario(data)
    except ScenarioError as exc:
        assert exc.problems and all(path and message for path, message in exc.problems)
        return
    _times_are_sane(scenario)


@FUZZ
@given(raw=st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode)))
def test_any_bytes_are_a_scenario_or_a_scenario_error(raw: bytes, tmp_path_factory: Any) -> None:
    path: Path = tmp_path_factory.mktemp("fuzz") / "s.yaml"
    path.write_bytes(raw)
    try:
        load_scenario(path)
    except ScenarioError as exc:
        assert exc.problems


@FUZZ
@given(
    doc=st.recursive(
        st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=10)),
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.dictionaries(st.text(max_size=8), children, max_size=4),
        ),
        max_leaves=30,
    )
)
def test_any_yaml_document_is_a_scenario_or_a_scenario_error(
    doc: Any, tmp_path_factory: Any
) -> None:
    path: Path = tmp_path_factory.mktemp("fuzz") / "s.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    try:
        load_scenario(path)
    except ScenarioError as exc:
        assert exc.problems
