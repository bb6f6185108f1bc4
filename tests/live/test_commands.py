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
    ],
)
def test_bad_commands_name_the_field(payload: bytes, field: str) -> None:
    with pytest.raises(CommandError, match=field):
        parse_command(payload, STATIONS)
