"""Commands a live plant accepts over OPC UA methods and the MQTT command topic, validated once.

MQTT command payload (JSON object)::

    {"command": "inject_failure", "station": "filler", "duration_s": 600, "reason": "jam",
     "id": "42"}
    {"command": "clear_failure", "station": "filler"}
    {"command": "set_speed", "speed": 60}

``id`` is optional and echoed in the result. Bad commands raise ``CommandError`` naming the field.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from plant_sim import naming
from plant_sim.live.clock import check_speed

MAX_FAILURE_S = 365 * 86400.0
MAX_REASON_CHARS = 200
MAX_COMMAND_BYTES = 4096


class CommandError(ValueError):
    """A command that cannot be carried out; the message names the field and the problem."""


@dataclass(frozen=True, slots=True)
class InjectFailure:
    """Take ``station`` down for ``duration_s`` simulated seconds."""

    station: str
    duration_s: float
    reason: str = "injected"


@dataclass(frozen=True, slots=True)
class ClearFailure:
    """End an injected (or modelled) failure of ``station`` now."""

    station: str


@dataclass(frozen=True, slots=True)
class SetSpeed:
    """Change the speed factor of the paced clock."""

    speed: float


Command = InjectFailure | ClearFailure | SetSpeed


class CommandHandler(Protocol):
    """Something that carries out commands (the live runner)."""

    async def execute(self, command: Command) -> str:
        """Carry out ``command``; return a short description; raise ``CommandError``."""
        ...


def inject_failure(
    station: Any, duration_s: Any, reason: Any = "injected", stations: Collection[str] = ()
) -> InjectFailure:
    """Return a validated ``InjectFailure``; ``stations`` (if given) are the known station ids."""
    st = _station(station, stations)
    if isinstance(duration_s, bool) or not isinstance(duration_s, int | float):
        raise CommandError(f"duration_s: expected a number of seconds, got {duration_s!r}")
    if not math.isfinite(duration_s) or not 0 < duration_s <= MAX_FAILURE_S:
        raise CommandError(f"duration_s: must be > 0 and <= {MAX_FAILURE_S:g}, got {duration_s!r}")
    if reason is None or reason == "":
        reason = "injected"
    problem = naming.text_problem(reason, MAX_REASON_CHARS)
    if problem is not None:
        raise CommandError(f"reason: {problem}")
    return InjectFailure(st, float(duration_s), reason)


def clear_failure(station: Any, stations: Collection[str] = ()) -> ClearFailure:
    """Return a validated ``ClearFailure``."""
    return ClearFailure(_station(station, stations))


def set_speed(speed: Any) -> SetSpeed:
    """Return a validated ``SetSpeed``."""
    try:
        return SetSpeed(check_speed(speed))
    except ValueError as exc:
        raise CommandError(str(exc)) from exc


def parse_command(
    payload: bytes | str | Mapping[str, Any], stations: Collection[str] = ()
) -> tuple[Command, str | None]:
    """Return ``(command, request id)`` from an MQTT command payload; raise ``CommandError``."""
    data = _load(payload)
    request_id = data.get("id")
    if request_id is not None and not isinstance(request_id, str | int):
        raise CommandError("id: expected a string or an integer")
    rid = None if request_id is None else str(request_id)
    name = data.get("command")
    fields = {k: v for k, v in data.items() if k not in ("command", "id")}
    allowed = {
        "inject_failure": {"station", "duration_s", "reason"},
        "clear_failure": {"station"},
        "set_speed": {"speed"},
    }
    if name not in allowed:
        raise CommandError(f"command: expected one of {sorted(allowed)}, got {name!r}")
    unknown = set(fields) - allowed[name]
    if unknown:
        raise CommandError(f"{name}: unknown field(s) {sorted(unknown)}")
    if name == "inject_failure":
        if "duration_s" not in fields:
            raise CommandError("duration_s: missing")
        cmd: Command = inject_failure(
            fields.get("station"), fields["duration_s"], fields.get("reason", "injected"), stations
        )
    elif name == "clear_failure":
        cmd = clear_failure(fields.get("station"), stations)
    else:
        if "speed" not in fields:
            raise CommandError("speed: missing")
        cmd = set_speed(fields["speed"])
    return cmd, rid


def _load(payload: bytes | str | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(payload, Mapping):
        return dict(payload)
    raw = payload.encode() if isinstance(payload, str) else payload
    if len(raw) > MAX_COMMAND_BYTES:
        raise CommandError(f"payload: {len(raw)} bytes is over the {MAX_COMMAND_BYTES} limit")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise CommandError(f"payload: not JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise CommandError("payload: expected a JSON object")
    return data


def _station(station: Any, stations: Collection[str]) -> str:
    if naming.name_problem(station) is not None:
        raise CommandError(f"station: expected a station id, got {station!r:.80}")
    if stations and station not in stations:
        raise CommandError(f"station: unknown station {station!r} (known: {', '.join(stations)})")
    return station
