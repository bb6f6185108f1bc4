"""Observation records: the typed events the model hands to its sink, and the ground-truth log.

Every record carries ``t``, seconds of simulation time since the scenario start; adapters turn it
into wall-clock time (``RunStart.start_epoch_ms + t * 1000``). Records are plain data: the
analytics, the gateway and the event-log file all use these shapes, never the model's objects.
``to_dict``/``from_dict`` give the JSON form, with the record's ``kind`` as discriminator.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, ClassVar, get_args, get_origin, get_type_hints

from plant_sim.states import StationState

SCHEMA_VERSION = 1
MAX_TS_MS = (2**63 - 1) // 1_000_000 - 1
"""Latest millisecond whose nanosecond timestamp fits InfluxDB's int64 (year 2262)."""


@dataclass(slots=True)
class RunStart:
    """First record of a run: identity and the plant's structure."""

    t: float
    run_id: str
    scenario: str
    seed: int
    start_epoch_ms: int
    horizon_s: float | None
    enterprise: str
    site: str
    area: str
    lines: list[dict[str, Any]] = field(default_factory=list)
    """Per line: ``{"line": id, "stations": [ids in flow order], "buffers": [ids]}``."""
    schema: int = SCHEMA_VERSION
    kind: ClassVar[str] = "run_start"


@dataclass(slots=True)
class RunEnd:
    """Last record of a run: closes every open interval at ``t``."""

    t: float
    kind: ClassVar[str] = "run_end"


@dataclass(slots=True)
class StateChange:
    """A station enters ``state``; the interval lasts until its next StateChange or RunEnd."""

    t: float
    line: str
    station: str
    state: StationState
    reason: str | None
    power_kw: float
    product: str | None = None
    kind: ClassVar[str] = "state"


@dataclass(slots=True)
class PartDone:
    """A station finished a part and judged it (ISO 22400: first judgement)."""

    t: float
    line: str
    station: str
    part_id: str
    product: str
    order_id: str | None
    result: str  # "good" | "scrap" | "rework"
    cycle_time_s: float
    planned_cycle_time_s: float  # PRI: planned run time per item
    kind: ClassVar[str] = "part"


@dataclass(slots=True)
class PartReleased:
    """A part entered the line at its first station (the start of WIP)."""

    t: float
    line: str
    part_id: str
    product: str
    order_id: str | None
    kind: ClassVar[str] = "release"


@dataclass(slots=True)
class PartLeft:
    """A part left the line: finished at the last station, or scrapped anywhere."""

    t: float
    line: str
    part_id: str
    product: str
    order_id: str | None
    outcome: str  # "finished" | "scrapped"
    flow_time_s: float
    kind: ClassVar[str] = "exit"


@dataclass(slots=True)
class BufferLevel:
    """The number of parts in a buffer changed."""

    t: float
    line: str
    buffer: str
    level: int
    capacity: int | None
    kind: ClassVar[str] = "buffer"


@dataclass(slots=True)
class ProcessSample:
    """Periodic process values of a station."""

    t: float
    line: str
    station: str
    temperature_c: float
    power_kw: float
    energy_kwh: float  # cumulative counter, monotonic
    speed_factor: float = 1.0
    kind: ClassVar[str] = "sample"


@dataclass(slots=True)
class OrderEvent:
    """A customer order changed status: arrived, released, completed or shipped."""

    t: float
    order_id: str
    product: str
    quantity: int
    due_s: float
    event: str
    line: str | None = None
    kind: ClassVar[str] = "order"


@dataclass(slots=True)
class StockLevel:
    """Raw-material stock changed (consumption or a delivery), or a draw must wait."""

    t: float
    material: str
    level: float
    cause: str  # "consumption" | "delivery" | "initial" | "shortage" (a draw waits: out)
    reorder_point: float | None = None
    """The material's reorder point (the model always sets it; logs older than it lack it)."""
    kind: ClassVar[str] = "stock"


@dataclass(slots=True)
class ShiftChange:
    """A shift started (``shift`` is its name) or ended with no shift after it (``None``)."""

    t: float
    shift: str | None
    kind: ClassVar[str] = "shift"


@dataclass(slots=True)
class ScenarioEvent:
    """A scripted scenario event began or ended (supplier outage, demand surge, ...)."""

    t: float
    name: str
    event: str  # kind of scenario event
    phase: str  # "start" | "end"
    target: str | None = None
    kind: ClassVar[str] = "scenario_event"


Record = (
    RunStart
    | RunEnd
    | StateChange
    | PartDone
    | PartReleased
    | PartLeft
    | BufferLevel
    | ProcessSample
    | OrderEvent
    | StockLevel
    | ShiftChange
    | ScenarioEvent
)

RECORD_TYPES: dict[str, type] = {
    cls.kind: cls
    for cls in (
        RunStart,
        RunEnd,
        StateChange,
        PartDone,
        PartReleased,
        PartLeft,
        BufferLevel,
        ProcessSample,
        OrderEvent,
        StockLevel,
        ShiftChange,
        ScenarioEvent,
    )
}

Emit = Callable[[Record], None]
"""The sink the model is given: called once per observation, in simulation-time order."""

_FIELD_NAMES: dict[str, tuple[str, ...]] = {
    kind: tuple(f.name for f in fields(cls)) for kind, cls in RECORD_TYPES.items()
}
_REQUIRED: dict[str, tuple[str, ...]] = {
    kind: tuple(f.name for f in fields(cls) if f.default is f.default_factory is MISSING)
    for kind, cls in RECORD_TYPES.items()
}


def _json_types(hint: Any) -> tuple[type, ...]:
    """Return the JSON value types a field of type ``hint`` takes (a number for a float)."""
    if isinstance(hint, types.UnionType):
        return tuple(t for arg in get_args(hint) for t in _json_types(arg))
    if hint is float:
        return (int, float)
    if hint is StationState:
        return (str,)
    return (get_origin(hint) or hint,)


FIELD_TYPES: dict[str, dict[str, tuple[type, ...]]] = {
    kind: {name: _json_types(hint) for name, hint in get_type_hints(cls).items() if name != "kind"}
    for kind, cls in RECORD_TYPES.items()
}
"""Per kind and field, the JSON value types a record takes (``bool`` is never a number)."""

_TYPE_NAMES = {int: "an integer", float: "a number", str: "a string", list: "a list"}
_TYPE_NAMES[type(None)] = "null"


def check_types(kind: str, data: dict[str, Any]) -> None:
    """Raise ``ValueError`` naming the first field whose value is not of its type (worded as
    ``telemetry_schema`` words it for the gateway)."""
    for name, allowed in FIELD_TYPES[kind].items():
        if name not in data:
            continue
        value = data[name]
        if isinstance(value, allowed) and not isinstance(value, bool):
            continue
        want = " or ".join(_TYPE_NAMES[t] for t in allowed if not (t is int and float in allowed))
        raise ValueError(f"{name}: expected {want}, got {type(value).__name__}")


def to_dict(record: Record) -> dict[str, Any]:
    """Return the JSON-ready form of a record, ``kind`` first (nested values are shared)."""
    out: dict[str, Any] = {"kind": record.kind}
    for name in _FIELD_NAMES[record.kind]:
        out[name] = getattr(record, name)
    return out


def from_dict(data: dict[str, Any]) -> Record:
    """Build a record from its dict form; raises ``ValueError`` naming the bad field."""
    kind = data.get("kind")
    cls = RECORD_TYPES.get(kind)  # type: ignore[arg-type]
    if cls is None:
        raise ValueError(f"kind: unknown record kind {kind!r}")
    names = _FIELD_NAMES[kind]  # type: ignore[index]
    unknown = set(data) - set(names) - {"kind"}
    if unknown:
        raise ValueError(f"{kind}: unknown field(s) {sorted(unknown)}")
    missing = [n for n in _REQUIRED[kind] if n not in data]
    if missing:
        raise ValueError(f"{kind}: missing field(s) {missing}")
    check_types(kind, data)
    record = cls(**{k: v for k, v in data.items() if k != "kind"})
    if isinstance(record, StateChange):
        record.state = StationState(record.state)
    return record
