"""Commands are validated once, for OPC UA methods and the MQTT command topic alike."""

from __future__ import annotations

import pytest

from plant_sim.live.commands import (
    ClearFailure,
    CommandError,
    InjectFailure,
    SetSpeed,
    parse_command,
)

STATIONS = ("filler", "capper")


def test_valid_commands_parse() -> None:
    cmd, rid = parse_command(
        b'{"command":"inject_failure","station":"filler","duration_s":60,"id":"7"}', STATIONS
    )
    assert cmd == InjectFailure("filler", 60.0, "injected") and rid == "7"
    assert parse_command({"command": "clear_failure", "station": "capper"}, STATIONS)[0] == (
        ClearFailure("capper")
    )
    assert parse_command('{"command":"set_speed","speed":60}')[0] == SetSpeed(60.0)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (b"not json", "payload"),
        (b"[1]", "payload"),
        (b'{"command":"explode"}', "command"),
        (b'{"command":"inject_failure","station":"nope","duration_s":5}', "station"),
        (b'{"command":"inject_failure","station":"filler"}', "duration_s"),
        (b'{"command":"inject_failure","station":"filler","duration_s":-5}', "duration_s"),
        (b'{"command":"inject_failure","station":"filler","duration_s":"5"}', "duration_s"),
        (b'{"command":"inject_failure","station":"filler","duration_s":5,"x":1}', "unknown"),
        (b'{"command":"clear_failure"}', "station"),
        (b'{"command":"set_speed","speed":0}', "speed"),
        (b'{"command":"set_speed"}', "speed"),
        (b'{"command":"set_speed","speed":"120"}', "speed: expected a number"),
        (b'{"command":"set_speed","speed":1e-300}', "speed: must be from 0.01"),
        (b'{"command":"set_speed","speed":true}', "speed"),
        (
            b'{"command":"inject_failure","station":"filler","duration_s":5,"reason":"a\\nb"}',
            "reason: line break",
        ),
        (
            b'{"command":"inject_failure","station":"filler","duration_s":5,"reason":"a\\rb"}',
            "reason: line break",
        ),
        (
            b'{"command":"inject_failure","station":"filler","duration_s":5,"reason":7}',
            "reason: expected a string",
        ),
        (b'{"command":"clear_failure","station":"fil\\\\ler"}', "station"),
    ],
)
def test_bad_commands_name_the_field(payload: bytes, field: str) -> None:
    with pytest.raises(CommandError, match=field):
        parse_command(payload, STATIONS)
