"""Generic MQTT JSON ingestion: any JSON a Node-RED or UMH flow publishes, mapped to the twin's
records by a mapping file (YAML or JSON; pure, no I/O)::

    enterprise: acme
    site: plant1
    area: assembly
    run_id: umh-demo                      # runs are named <run_id>-<start epoch ms>
    preset: umh_historian                 # optional: topic and timestamp of UMH's _historian
    topic: "umh/v1/+/+/+/{line}/{station}/+/_historian/#"   # {line} and {station} captured
    timestamp: {field: timestamp_ms, unit: ms}   # ms | s | iso; absent: the time received
    state:
      field: machine_state
      values: {producing: processing, setup: setup, fault: down, waiting: idle, "off": off_shift}
    counts:
      good: {field: good_count, cumulative: true}    # cumulative counter ...
      scrap: {field: scrap, cumulative: false}       # ... or units per message
    stations:
      - {line: line1, station: cell01, planned_cycle_time_s: 12, product: widget}

``JsonTranslator.translate(topic, payload, received_ms)`` returns the twin's records for one
message, or raises ``JsonMapError`` with the reason (the message becomes a dead letter).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from gateway.machinery_map import (
    MachineMap,
    MachineryTranslator,
    Mapping,
    MappingError,
    check_name,
    read_mapping_file,
)
from plant_sim.records import Record
from plant_sim.states import StationState

MAX_PAYLOAD_BYTES = 64 * 1024
PRESETS: dict[str, dict[str, Any]] = {
    # UMH data model v1: umh/v1/{enterprise}/{site}/{area}/{productionLine}/{workCell}/
    # {originID}/_historian[/{tagGroup}]/{tag}, payload {"timestamp_ms": ..., "<tag>": value}
    "umh_historian": {
        "topic": "umh/v1/+/+/+/{line}/{station}/+/_historian/#",
        "timestamp": {"field": "timestamp_ms", "unit": "ms"},
    },
}
_UNITS = ("ms", "s", "iso")


class JsonMapError(ValueError):
    """A message the mapping cannot turn into records; the text is the dead letter's reason."""


@dataclass(frozen=True, slots=True)
class CountField:
    """A JSON field holding parts of one result."""

    field: str
    cumulative: bool


@dataclass(frozen=True, slots=True)
class JsonMapping:
    """A whole JSON mapping file."""

    plant: Mapping
    topic: str
    pattern: re.Pattern[str]
    timestamp_field: str | None
    timestamp_unit: str
    state_field: str | None
    state_values: dict[str, StationState] = field(default_factory=dict)
    counts: dict[str, CountField] = field(default_factory=dict)

    @property
    def topic_filter(self) -> str:
        """The MQTT subscription that covers ``topic`` (captures as ``+``)."""
        return re.sub(r"\{(line|station)\}", "+", self.topic)


def load_json_mapping(path: Path) -> JsonMapping:
    """Read and check a JSON mapping file; raises ``MappingError`` naming the field."""
    data = read_mapping_file(path)
    try:
        return parse_json_mapping(data)
    except MappingError as exc:
        raise MappingError(f"mapping file {path}: {exc}") from exc


def parse_json_mapping(data: Any) -> JsonMapping:
    """Check a parsed JSON mapping; raises ``MappingError`` naming the field."""
    if not isinstance(data, dict):
        raise MappingError("expected a table with enterprise, site, area, topic and stations")
    preset_name = data.get("preset")
    if preset_name is not None and preset_name not in PRESETS:
        raise MappingError(f"preset: unknown {preset_name!r} (known: {sorted(PRESETS)})")
    merged = {**PRESETS.get(preset_name or "", {}), **data}
    topic = merged.get("topic")
    if not isinstance(topic, str):
        raise MappingError("topic: expected a topic pattern with {line} and {station}")
    stamp = merged.get("timestamp")
    if stamp is not None and (
        not isinstance(stamp, dict)
        or not isinstance(stamp.get("field"), str)
        or stamp.get("unit", "ms") not in _UNITS
    ):
        raise MappingError(f"timestamp: expected {{field: NAME, unit: {' | '.join(_UNITS)}}}")
    state_field, values = parse_state(merged.get("state"))
    counts = parse_counts(merged.get("counts", {}))
    if state_field is None and not counts:
        raise MappingError("give state and/or counts: nothing would be recorded")
    return JsonMapping(
        plant=parse_plant(merged, "mqtt"),
        topic=topic,
        pattern=_compile(topic),
        timestamp_field=stamp["field"] if stamp else None,
        timestamp_unit=stamp.get("unit", "ms") if stamp else "ms",
        state_field=state_field,
        state_values=values,
        counts=counts,
    )


def parse_plant(data: dict[str, Any], default_run_id: str) -> Mapping:
    """The plant and its ``stations`` (line, station, planned cycle time, product) of a
    mapping; other keys of a station entry are left to the caller."""
    raw = data.get("stations")
    if not isinstance(raw, list) or not raw:
        raise MappingError("stations: expected a non-empty list of {line, station, ...}")
    machines = []
    for i, entry in enumerate(raw):
        where = f"stations[{i}]"
        if not isinstance(entry, dict):
            raise MappingError(f"{where}: expected a table")
        line, station = (
            check_name(entry, "line", f"{where}.line"),
            check_name(entry, "station", f"{where}.station"),
        )
        pri = entry.get("planned_cycle_time_s")
        if isinstance(pri, bool) or not isinstance(pri, int | float) or not 0 < pri < 1e7:
            raise MappingError(f"{where}.planned_cycle_time_s: expected a number of seconds > 0")
        machines.append(
            MachineMap(
                machine=f"{line}/{station}",
                line=line,
                station=station,
                planned_cycle_time_s=float(pri),
                product=check_name(entry, "product", f"{where}.product", "unknown"),
            )
        )
    if len({m.machine for m in machines}) < len(machines):
        raise MappingError("stations: a line/station is listed twice")
    return Mapping(
        enterprise=check_name(data, "enterprise", "enterprise"),
        site=check_name(data, "site", "site"),
        area=check_name(data, "area", "area"),
        machines=tuple(machines),
        run_id=check_name(data, "run_id", "run_id", default_run_id),
    )


def _compile(topic: str) -> re.Pattern[str]:
    levels = topic.split("/")
    if "{line}" not in levels or "{station}" not in levels:
        raise MappingError("topic: the pattern needs the levels {line} and {station}")
    rest = ""
    if levels[-1] == "#":  # as in MQTT: the parent level itself and everything below it
        levels, rest = levels[:-1], "(?:/.*)?"
    parts = []
    for level in levels:
        if level in ("{line}", "{station}"):
            parts.append(f"(?P<{level[1:-1]}>[^/]+)")
        elif level == "+":
            parts.append("[^/]+")
        elif not level or any(c in level for c in "+#{}"):
            raise MappingError(f"topic: level {level!r} is not a name, +, # (last) or a capture")
        else:
            parts.append(re.escape(level))
    return re.compile("/".join(parts) + rest)


def parse_state(raw: Any, key: str = "field") -> tuple[str | None, dict[str, StationState]]:
    """``state: {<key>: NAME, values: {value: twin state}}`` -> (NAME, value key -> state)."""
    if raw is None:
        return None, {}
    if not isinstance(raw, dict) or not isinstance(raw.get(key), str):
        raise MappingError(f"state: expected {{{key}: NAME, values: {{value: twin state}}}}")
    values = raw.get("values")
    if not isinstance(values, dict) or not values:
        raise MappingError("state.values: expected a table of value -> twin state")
    out = {}
    for value, name in values.items():
        try:
            out[state_key(value)] = StationState(name)
        except ValueError:
            raise MappingError(f"state.values.{value}: unknown twin state {name!r}") from None
    return raw[key], out


def parse_counts(raw: Any, key: str = "field") -> dict[str, CountField]:
    """``counts: {good|scrap: {<key>: NAME, cumulative: bool}}``."""
    if not isinstance(raw, dict) or set(raw) - {"good", "scrap"}:
        raise MappingError("counts: expected good and/or scrap")
    out = {}
    for result, spec in raw.items():
        if not isinstance(spec, dict) or not isinstance(spec.get(key), str):
            raise MappingError(f"counts.{result}: expected {{{key}: NAME, cumulative: bool}}")
        cumulative = spec.get("cumulative", True)
        if not isinstance(cumulative, bool):
            raise MappingError(f"counts.{result}.cumulative: expected true or false")
        out[result] = CountField(spec[key], cumulative)
    return out


def state_key(value: Any) -> str:
    """A state value as a lookup key: JSON true/false and numbers as JSON writes them."""
    return orjson.dumps(value).decode() if not isinstance(value, str) else value


class JsonTranslator:
    """Messages of mapped stations -> the twin's records of one run (starts at the first)."""

    def __init__(self, mapping: JsonMapping, endpoint: str) -> None:
        self.mapping = mapping
        self.endpoint = endpoint
        self.records: MachineryTranslator | None = None

    def translate(self, topic: str, payload: bytes, received_ms: int) -> list[Record]:
        """The records of one message (the first message also gives the run's ``run_start``)."""
        mp = self.mapping
        match = mp.pattern.fullmatch(topic)
        if match is None:
            raise JsonMapError(f"topic: {topic[:200]!r} does not match {mp.topic!r}")
        machine = f"{match['line']}/{match['station']}"
        data = _object(payload)
        ts_ms = self._timestamp(data, received_ms)
        out: list[Record] = []
        if self.records is None:
            self.records = MachineryTranslator(mp.plant, ts_ms, self.endpoint)
            out.append(self.records.run_start())
        if machine not in self.records.mapping.by_machine():
            raise JsonMapError(f"station: {machine!r} is not in the mapping's stations")
        if mp.state_field is not None and mp.state_field in data:
            value = data[mp.state_field]
            state = mp.state_values.get(state_key(value))
            if state is None:
                raise JsonMapError(f"{mp.state_field}: value {state_key(value)[:100]!r} not mapped")
            out += self.records.set_state(machine, ts_ms, state, None)
        for result, spec in mp.counts.items():
            if spec.field not in data:
                continue
            n = data[spec.field]
            if isinstance(n, bool) or not isinstance(n, int | float) or n < 0 or n != int(n):
                raise JsonMapError(f"{spec.field}: expected a count >= 0, got {str(n)[:50]!r}")
            if spec.cumulative:
                out += self.records.counter(machine, result, int(n), ts_ms)
            else:
                out += self.records.parts(machine, result, int(n), ts_ms)
        return out

    def _timestamp(self, data: dict[str, Any], received_ms: int) -> int:
        name = self.mapping.timestamp_field
        if name is None:
            return received_ms
        value = data.get(name)
        unit = self.mapping.timestamp_unit
        try:
            if unit == "iso":
                if not isinstance(value, str):
                    raise TypeError
                stamp = datetime.fromisoformat(value.replace("Z", "+00:00"))
                if stamp.tzinfo is None:
                    raise TypeError("no time zone")
                ms = round(stamp.timestamp() * 1000)
            else:
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise TypeError
                ms = round(value * (1000 if unit == "s" else 1))
        except (TypeError, ValueError, OverflowError):
            want = "ISO 8601 with a time zone" if unit == "iso" else unit
            raise JsonMapError(f"{name}: expected a timestamp ({want})") from None
        if not 0 < ms < 32_503_680_000_000:  # before year 3000
            raise JsonMapError(f"{name}: {ms} ms is out of range")
        return ms


def _object(payload: bytes) -> dict[str, Any]:
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise JsonMapError(f"payload: {len(payload)} bytes is over {MAX_PAYLOAD_BYTES}")
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise JsonMapError(f"payload: not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise JsonMapError("payload: expected a JSON object")
    return data
