"""The InfluxDB schema of every record kind: measurements, tags, fields, both directions.

Writing: ``point_parts(record, run_id, source)`` gives the line-protocol *series* (measurement
and tags, escaped) and *field set* of a record; ``line(series, fields, ts_ms, seq)`` joins them with
the timestamp. Reading: ``select_statement(kind, run_id)`` is the InfluxQL that fetches a kind
back, and ``records_from_result(json)`` turns the ``/query`` answer into ``StoredRecord``s.

Timestamps are nanoseconds: ``ts_ms * 1_000_000 + seq``. ``seq`` tells apart the records of one
series that share a millisecond, so each record is exactly one point and writing it again
overwrites itself (idempotent, exactly-once in storage). For a record the producer numbered
(``n``, its place in the run, stored as the field ``n``) ``seq = n % 1_000_000``; otherwise the
gateway's sequencer numbers them 0, 1, 2, ... in arrival order. Reading back sorts by time and
then ``n`` (or ``seq``), which is the emission order.

Tags are bounded and always present for a measurement (InfluxDB 3 rejects changing tag sets):
``run_id`` plus the record's equipment and category names. Ids (part, order), free text and
optional values are fields. ``t`` (simulation seconds) is stored as a float field so that records
read back equal the simulator's own, bit for bit. ``source`` (``mqtt``/``opcua``) is a field.

Escaping follows line protocol (standards.md §5.2). Values that no InfluxDB version can store
faithfully are refused with ``SchemaError`` naming the field: non-finite floats, and names
(measurements, tag keys and values, field keys) the twin itself refuses (``naming.name_problem``:
empty, over 256 characters, control characters such as line breaks and tabs, backslashes, which
InfluxDB 1.x keeps literally and 2.x unescapes), so every name the twin gives is stored.
"""

from __future__ import annotations

import math
import numbers
import typing
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, NamedTuple

import orjson

from plant_sim import naming
from plant_sim.records import MAX_TS_MS, RECORD_TYPES, Record
from plant_sim.states import STATE_INFO, StationState

PRECISION = "ns"
"""Precision of the timestamps in the lines (``precision=ns`` on ``/write``)."""

SEQ_LIMIT = 1_000_000
"""``seq`` must stay below this: it lives in the sub-millisecond nanoseconds."""

MAX_STRING_FIELD = 64 * 1024 - 1
"""Longest string field value InfluxDB accepts (64 KiB)."""

SOURCE_FIELD = "source"
NUMBER_FIELD = "n"
"""The producer's record number (0, 1, 2, ... per run), stored when the payload carried it."""
METRICS_MEASUREMENT = "gateway_stats"
"""The gateway's own metrics: tags ``gateway``, ``source``; counter and lag fields."""


class SchemaError(ValueError):
    """A record value that cannot become a faithful point; the message names the field."""


@dataclass(frozen=True, slots=True)
class Field:
    """One field of a measurement: the record attribute and its line-protocol type."""

    name: str
    type: str  # "float" | "int" | "str" | "json"


@dataclass(frozen=True, slots=True)
class KindSchema:
    """How one record kind is stored."""

    kind: str
    measurement: str
    tags: tuple[str, ...]
    """Tag keys in sorted order; ``run_id`` comes from the envelope, the rest from the record."""
    fields: tuple[Field, ...]
    derived: tuple[str, ...] = ()
    """Extra integer fields computed on write (state numbers), ignored on read."""


def _f(*specs: str) -> tuple[Field, ...]:
    out = []
    for spec in specs:
        name, _, typ = spec.partition(":")
        out.append(Field(name, typ or "float"))
    return tuple(out)


SCHEMAS: dict[str, KindSchema] = {
    s.kind: s
    for s in (
        KindSchema(
            "run_start",
            "run_start",
            ("run_id", "scenario"),
            _f(
                "t",
                "seed:int",
                "start_epoch_ms:int",
                "horizon_s",
                "enterprise:str",
                "site:str",
                "area:str",
                "lines:json",
                "schema:int",
            ),
        ),
        KindSchema("run_end", "run_end", ("run_id",), _f("t")),
        KindSchema(
            "state",
            "machine_state",
            ("line", "run_id", "station"),
            _f("t", "state:str", "reason:str", "power_kw", "product:str"),
            derived=("state_num", "item_state", "operation_mode", "packml"),
        ),
        KindSchema(
            "part",
            "part_event",
            ("line", "product", "result", "run_id", "station"),
            _f("t", "part_id:str", "order_id:str", "cycle_time_s", "planned_cycle_time_s"),
        ),
        KindSchema(
            "release",
            "part_release",
            ("line", "product", "run_id"),
            _f("t", "part_id:str", "order_id:str"),
        ),
        KindSchema(
            "exit",
            "part_exit",
            ("line", "outcome", "product", "run_id"),
            _f("t", "part_id:str", "order_id:str", "flow_time_s"),
        ),
        KindSchema(
            "buffer", "buffer", ("buffer", "line", "run_id"), _f("t", "level:int", "capacity:int")
        ),
        KindSchema(
            "sample",
            "telemetry",
            ("line", "run_id", "station"),
            _f("t", "temperature_c", "power_kw", "energy_kwh", "speed_factor"),
        ),
        KindSchema(
            "order",
            "order_event",
            ("event", "product", "run_id"),
            _f("t", "order_id:str", "quantity:int", "due_s", "line:str"),
        ),
        KindSchema(
            "stock", "stock", ("cause", "material", "run_id"), _f("t", "level", "reorder_point")
        ),
        KindSchema("shift", "shift", ("run_id",), _f("t", "shift:str")),
        KindSchema(
            "scenario_event",
            "scenario_event",
            ("event", "phase", "run_id"),
            _f("t", "name:str", "target:str"),
        ),
    )
}

MEASUREMENT_KINDS: dict[str, str] = {s.measurement: s.kind for s in SCHEMAS.values()}
"""Measurement name -> record kind."""

assert set(SCHEMAS) == set(RECORD_TYPES), "every record kind needs a schema"


class StoredRecord(NamedTuple):
    """A record as read back from InfluxDB, with its envelope."""

    record: Record
    run_id: str
    ts_ms: int
    seq: int
    source: str | None
    n: int | None = None
    """The producer's record number, if stored (then ``order`` sorts by it, not by ``seq``)."""

    @property
    def order(self) -> tuple[int, int]:
        """Sort key in emission order: time, then record number (or ``seq``)."""
        return self.ts_ms, self.seq if self.n is None else self.n


# ---------------------------------------------------------------- escaping


def _check_name(value: str, what: str) -> str:
    """``value`` if the twin would take it as a name (``naming.name_problem``: one rule)."""
    problem = naming.name_problem(value)
    if problem is not None:
        raise SchemaError(f"{what}: {problem}")
    return value


def escape_measurement(name: str) -> str:
    """Escape a measurement name (comma, space)."""
    _check_name(name, "measurement")
    return name.replace(",", r"\,").replace(" ", r"\ ")


def escape_key(name: str, what: str = "tag") -> str:
    """Escape a tag key, tag value or field key (comma, equals sign, space)."""
    _check_name(name, what)
    if "," in name or "=" in name or " " in name:
        return name.replace(",", r"\,").replace("=", r"\=").replace(" ", r"\ ")
    return name


def escape_string(value: str, what: str = "field") -> str:
    """Return a quoted string field value (escaping double quote and backslash)."""
    if "\n" in value or "\r" in value:
        raise SchemaError(f"{what}: line break in string value")
    if len(value) > MAX_STRING_FIELD:
        raise SchemaError(f"{what}: string of {len(value)} characters is over the 64 KiB limit")
    if '"' in value or "\\" in value:
        value = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{value}"'


# ---------------------------------------------------------------- values


def _fmt_float(value: Any, name: str) -> str:
    if type(value) is float:
        if math.isfinite(value):
            return repr(value)
        raise SchemaError(f"{name}: not a finite number ({value!r})")
    if type(value) is int:
        return repr(float(value))
    raise SchemaError(f"{name}: expected a number, got {type(value).__name__}")


def _fmt_int(value: Any, name: str) -> str:
    if type(value) is int:
        if -(2**63) <= value < 2**63:
            return f"{value}i"
        raise SchemaError(f"{name}: integer out of the 64-bit range")
    raise SchemaError(f"{name}: expected an integer, got {type(value).__name__}")


def _fmt_str(value: Any, name: str) -> str:
    if type(value) is str or isinstance(value, str):
        return escape_string(str(value), name)
    raise SchemaError(f"{name}: expected a string, got {type(value).__name__}")


def _fmt_json(value: Any, name: str) -> str:
    try:
        return escape_string(orjson.dumps(value).decode(), name)
    except TypeError as exc:
        raise SchemaError(f"{name}: not JSON-serialisable ({exc})") from exc


_FORMATTERS: dict[str, Callable[[Any, str], str]] = {
    "float": _fmt_float,
    "int": _fmt_int,
    "str": _fmt_str,
    "json": _fmt_json,
}


def derived_fields(state: str) -> str:
    """Return the derived state-number fields of a ``machine_state`` point (``,state_num=...``)."""
    info = STATE_INFO[StationState(state)]
    return (
        f",state_num={info.number}i,item_state={info.machinery_item_state}i"
        f",operation_mode={info.operation_mode}i,packml={info.packml}i"
    )


class _Plan(NamedTuple):
    measurement: str
    tags: tuple[tuple[str, str], ...]  # (attribute, escaped key)
    tag_attrs: tuple[str, ...]  # record attributes that are tags (all but run_id)
    fields: tuple[tuple[str, str, Callable[[Any, str], str], bool], ...]
    """(attribute, escaped key and "=", formatter, optional)"""
    derived: bool


def _optional(kind: str, attr: str) -> bool:
    hint = typing.get_type_hints(RECORD_TYPES[kind])[attr]
    return type(None) in typing.get_args(hint)


_PLANS: dict[str, _Plan] = {
    kind: _Plan(
        escape_measurement(s.measurement),
        tuple((t, escape_key(t)) for t in s.tags),
        tuple(t for t in s.tags if t != "run_id"),
        tuple(
            (
                f.name,
                escape_key(f.name, "field") + "=",
                _FORMATTERS[f.type],
                _optional(kind, f.name),
            )
            for f in s.fields
        ),
        bool(s.derived),
    )
    for kind, s in SCHEMAS.items()
}

_DERIVED: dict[str, str] = {s.value: derived_fields(s) for s in StationState}
_tag_cache: dict[str, str] = {}
_series_cache: dict[tuple[Any, ...], str] = {}


def _tag_value(value: Any, name: str) -> str:
    if type(value) is not str and not isinstance(value, str):
        raise SchemaError(f"{name}: expected a string, got {type(value).__name__}")
    cached = _tag_cache.get(value)
    if cached is None:
        cached = escape_key(str(value), name)
        if len(_tag_cache) < 100_000:
            _tag_cache[value] = cached
    return cached


def point_parts(record: Record, run_id: str, source: str | None = None) -> tuple[str, str]:
    """Return ``(series, fields)``: the escaped measurement+tags and the field set of a record.

    Raises ``SchemaError`` naming the field when a value has the wrong type or cannot be stored.
    """
    series, fields = parts_of(record.kind, run_id, record.__getattribute__)
    if source is not None:
        fields += f",{SOURCE_FIELD}={escape_string(source, SOURCE_FIELD)}"
    return series, fields


def parts_of(kind: str, run_id: str, get: Callable[[str], Any]) -> tuple[str, str]:
    """``point_parts`` of the record of ``kind`` whose attribute ``name`` is ``get(name)``."""
    plan = _PLANS[kind]
    key = (kind, run_id, *map(get, plan.tag_attrs))
    try:
        series = _series_cache.get(key)
    except TypeError:  # an unhashable tag value: refused by _series below
        series = None
    if series is None:
        series = _series(plan, get, run_id)
        if len(_series_cache) < 100_000:
            _series_cache[key] = series
    parts = []
    for attr, prefix, fmt, optional in plan.fields:
        value = get(attr)
        if value is not None:
            parts.append(prefix + fmt(value, attr))
        elif not optional:
            raise SchemaError(f"{attr}: missing (null)")
    fields = ",".join(parts)
    if plan.derived:
        state = get("state")
        derived = _DERIVED.get(state)
        if derived is None:
            raise SchemaError(f"state: unknown state {state!r}")
        fields += derived
    return series, fields


def _series(plan: _Plan, get: Callable[[str], Any], run_id: str) -> str:
    out = [plan.measurement]
    for attr, key in plan.tags:
        value = run_id if attr == "run_id" else get(attr)
        out.append(f"{key}={_tag_value(value, attr)}")
    return ",".join(out)


def check_ts_ms(ts_ms: int) -> int:
    """Return ``ts_ms`` if a point can carry it; raises ``SchemaError`` otherwise."""
    if type(ts_ms) is not int or not 0 <= ts_ms <= MAX_TS_MS:
        raise SchemaError(f"ts_ms: {ts_ms!r} is not an epoch millisecond InfluxDB can store")
    return ts_ms


def timestamp_ns(ts_ms: int, seq: int = 0) -> int:
    """Return the point timestamp of the ``seq``-th record of a series in millisecond ``ts_ms``."""
    check_ts_ms(ts_ms)
    if not 0 <= seq < SEQ_LIMIT:
        raise SchemaError(f"seq: {seq} outside 0..{SEQ_LIMIT - 1}")
    return ts_ms * 1_000_000 + seq


def line(series: str, fields: str, ts_ms: int, seq: int = 0) -> str:
    """Return one line of line protocol (nanosecond timestamp)."""
    return f"{series} {fields} {timestamp_ns(ts_ms, seq)}"


def to_line(
    record: Record, run_id: str, ts_ms: int, seq: int = 0, source: str | None = None
) -> str:
    """Return the line-protocol line of a record (``point_parts`` + ``line``)."""
    series, fields = point_parts(record, run_id, source)
    return line(series, fields, ts_ms, seq)


def field_value(value: Any, name: str) -> str | None:
    """The line-protocol text of one field value, ``None`` when it is undefined.

    bool -> ``true``/``false``, int -> ``Ni`` (64-bit), float -> ``repr`` (None, NaN and
    infinities are undefined: left out), str -> quoted and escaped. Raises ``SchemaError``.
    """
    if value is None:
        return None
    if type(value) is bool:
        return "true" if value else "false"
    if isinstance(value, numbers.Integral):  # numpy integers too
        return _fmt_int(int(value), name)
    if isinstance(value, numbers.Real):
        number = float(value)
        return repr(number) if math.isfinite(number) else None
    if isinstance(value, str):
        return escape_string(str(value), name)
    raise SchemaError(f"{name}: cannot store a {type(value).__name__}")


def encode_series(measurement: str, tags: Mapping[str, str]) -> str:
    """Measurement and tags (sorted by key), escaped: the series part of a line."""
    parts = [escape_measurement(measurement)]
    parts += [f"{escape_key(k)}={escape_key(tags[k], k)}" for k in sorted(tags)]
    return ",".join(parts)


def encode_fields(fields: Mapping[str, Any]) -> str:
    """The field set, in the mapping's order, leaving out undefined values (``field_value``)."""
    parts = []
    for name, value in fields.items():
        text = field_value(value, name)
        if text is not None:
            parts.append(f"{escape_key(name, 'field')}={text}")
    return ",".join(parts)


def encode_point(
    measurement: str, tags: Mapping[str, str], fields: Mapping[str, Any], timestamp: int
) -> str | None:
    """One line of line protocol (timestamp in the writer's precision); ``None`` when no field
    is defined. The encoder of every measurement that is not a record (``parts_of`` encodes
    those from the schema above): gateway metrics, KPIs, what-if results."""
    field_set = encode_fields(fields)
    if not field_set:
        return None
    return f"{encode_series(measurement, tags)} {field_set} {timestamp}"


def metrics_line(gateway: str, source: str, values: Mapping[str, float | int], ts_ms: int) -> str:
    """Return a ``gateway_stats`` line: ints as integers, other numbers as floats."""
    numbers = {k: v if type(v) is int else float(v) for k, v in sorted(values.items())}
    tags = {"gateway": gateway, "source": source}
    line = encode_point(METRICS_MEASUREMENT, tags, numbers, ts_ms * 1_000_000)
    if line is None:
        raise SchemaError("gateway_stats: no defined value")
    return line


# ---------------------------------------------------------------- reading back


def quote_ident(name: str) -> str:
    """Quote an InfluxQL identifier."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def quote_literal(value: str) -> str:
    """Quote an InfluxQL string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def select_statement(kind: str, run_id: str | None = None) -> str:
    """Return the InfluxQL that reads every stored record of ``kind`` (of one run), by time."""
    stmt = f"SELECT * FROM {quote_ident(SCHEMAS[kind].measurement)}"
    if run_id is not None:
        stmt += f" WHERE {quote_ident('run_id')} = {quote_literal(run_id)}"
    return stmt


def _read_value(field: Field, value: Any) -> Any:
    if value is None:
        return None
    if field.type == "float":
        return float(value)
    if field.type == "int":
        return int(value)
    if field.type == "json":
        return orjson.loads(value)
    return value


def record_from_row(measurement: str, row: Mapping[str, Any]) -> StoredRecord:
    """Turn one row (column -> value, ``time`` in ns) of a measurement into a ``StoredRecord``."""
    kind = MEASUREMENT_KINDS.get(measurement)
    if kind is None:
        raise SchemaError(f"measurement: {measurement!r} holds no record kind")
    schema = SCHEMAS[kind]
    kwargs: dict[str, Any] = {t: row.get(t) for t in schema.tags if t != "run_id"}
    for field in schema.fields:
        kwargs[field.name] = _read_value(field, row.get(field.name))
    if kind == "state":
        try:
            kwargs["state"] = StationState(kwargs["state"])
        except ValueError:
            raise SchemaError(
                f"{measurement}.state: {kwargs['state']!r} is not a station state "
                f"(time {row.get('time')}, station {row.get('station')!r})"
            ) from None
    if kind == "run_start":
        kwargs["run_id"] = row["run_id"]
    record = RECORD_TYPES[kind](**kwargs)
    time_ns = int(row["time"])
    n = row.get(NUMBER_FIELD)
    return StoredRecord(
        record,
        str(row["run_id"]),
        time_ns // 1_000_000,
        time_ns % 1_000_000,
        row.get(SOURCE_FIELD),
        None if n is None else int(n),
    )


def rows_from_result(result: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield ``(measurement, row)`` from a ``/query`` JSON answer (``epoch=ns``)."""
    for statement in result.get("results", []):
        if "error" in statement:
            raise SchemaError(f"query: {statement['error']}")
        for series in statement.get("series", []) or []:
            columns = series["columns"]
            tags = series.get("tags") or {}
            for values in series.get("values", []):
                row = dict(zip(columns, values, strict=True))
                row.update(tags)
                yield series["name"], row


def records_from_result(result: Mapping[str, Any]) -> list[StoredRecord]:
    """Return the records in a ``/query`` JSON answer (``epoch=ns``), ordered by time."""
    out = [record_from_row(m, row) for m, row in rows_from_result(result)]
    out.sort(key=attrgetter("order"))
    return out


def kinds() -> Iterable[str]:
    """Return every record kind that has a schema."""
    return SCHEMAS.keys()
