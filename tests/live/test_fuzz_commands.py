"""Property tests of the MQTT command parser (issue 14, fuzz suite): any payload gives a
validated command or a ``CommandError`` naming the field; an accepted command is one the
model and the gateway can carry out and store."""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from plant_sim import naming
from plant_sim.live.clock import MAX_SPEED, MIN_SPEED
from plant_sim.live.commands import (
    MAX_FAILURE_S,
    ClearFailure,
    CommandError,
    InjectFailure,
    SetSpeed,
    parse_command,
)

FUZZ = settings(max_examples=200, deadline=None, derandomize=True)
STATIONS = ("filler", "capper")
VALUES = st.one_of(
    st.sampled_from(
        [
            1e308,
            -1e308,
            5e-324,
            -0.0,
            0,
            1e-300,
            120,
            "120",
            "",
            "filler",
            "FILLER",
            "a\nb",
            "a\\b",
            "x" * 5000,
            None,
            True,
            [],
            {},
            2**64,
            10**30,
        ]
    ),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
COMMANDS = st.fixed_dictionaries(
    {"command": st.sampled_from(["inject_failure", "clear_failure", "set_speed", "boom", 3])},
    optional={
        "station": VALUES,
        "duration_s": VALUES,
        "reason": VALUES,
        "speed": VALUES,
        "id": VALUES,
    },
)


def _check(command: Any) -> None:
    if isinstance(command, InjectFailure):
        assert command.station in STATIONS
        assert 0 < command.duration_s <= MAX_FAILURE_S and math.isfinite(command.duration_s)
        assert naming.text_problem(command.reason, 200) is None
    elif isinstance(command, ClearFailure):
        assert command.station in STATIONS
    else:
        assert isinstance(command, SetSpeed) and MIN_SPEED <= command.speed <= MAX_SPEED


@FUZZ
@given(data=COMMANDS)
def test_any_command_object_is_valid_or_refused_naming_the_field(data: dict[str, Any]) -> None:
    payload = json.dumps(data).encode()
    try:
        command, request_id = parse_command(payload, STATIONS)
    except CommandError as exc:
        assert str(exc).split(":")[0]
        return
    _check(command)
    assert request_id is None or isinstance(request_id, str)


@FUZZ
@given(raw=st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode)))
def test_any_bytes_are_a_command_or_a_command_error(raw: bytes) -> None:
    try:
        command, _ = parse_command(raw, STATIONS)
    except CommandError:
        return
    _check(command)
