"""Payload -> line-protocol parts in one step, for the common well-formed payload.

``payloads.decode`` builds a record, and ``telemetry_schema.point_parts`` formats it: the
authoritative path, which names every problem. A gateway taking tens of thousands of messages a
second spends most of its time there, so ``fast_point`` skips building the record: it hands the
decoded JSON to the same encoder (``telemetry_schema.parts_of``; there is no second one).
It only takes payloads it can vouch for (known kind, no unknown key, every value of exactly the
expected type, nothing to escape in a string) and returns ``None`` for anything else; the caller
then takes the authoritative path, which gives the verdict and the reason. For every payload it
takes, the parts equal those of the authoritative path (tests/gateway/test_payload_points.py).
``run_start`` always takes the authoritative path.
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import orjson

from plant_sim.payloads import MAX_PAYLOAD_BYTES
from plant_sim.records import RECORD_TYPES
from plant_sim.telemetry_schema import MAX_TS_MS, SCHEMAS, SchemaError, parts_of

_ENVELOPE = ("run_id", "ts_ms", "ts", "uns")


class FastPoint(NamedTuple):
    """A payload's point parts and what the run check needs."""

    kind: str
    run_id: str
    ts_ms: int
    series: str
    fields: str
    t: float
    line: str | None
    station: str | None


class _KindPlan(NamedTuple):
    allowed: frozenset[str]  # the keys a payload of this kind may have, envelope aside
    defaults: tuple[tuple[str, Any], ...]  # record attributes that may be left out


def _plan(kind: str) -> _KindPlan | None:
    if any(f.type == "json" for f in SCHEMAS[kind].fields):
        return None  # JSON-valued fields (run_start): authoritative path only
    attrs = dataclasses.fields(RECORD_TYPES[kind])
    return _KindPlan(
        frozenset({a.name for a in attrs} | {"kind"}),
        tuple((a.name, a.default) for a in attrs if a.default is not dataclasses.MISSING),
    )


_PLANS: dict[str, _KindPlan] = {kind: plan for kind in SCHEMAS if (plan := _plan(kind))}


def fast_point(payload: bytes) -> FastPoint | None:
    """Return the point parts of a well-formed payload, or ``None`` (take the slow path)."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        return None
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None
    if type(data) is not dict:
        return None
    kind = data.get("kind")
    plan = _PLANS.get(kind) if type(kind) is str else None
    if plan is None:
        return None
    run_id, ts_ms = data.get("run_id"), data.get("ts_ms")
    if type(run_id) is not str or type(ts_ms) is not int or not 0 <= ts_ms <= MAX_TS_MS:
        return None
    for key in _ENVELOPE:
        data.pop(key, None)
    if not plan.allowed.issuperset(data):
        return None
    for name, default in plan.defaults:
        data.setdefault(name, default)
    try:
        series, fields = parts_of(kind, run_id, data.__getitem__)  # type: ignore[arg-type]
    except (KeyError, TypeError, SchemaError):  # missing or refused: the slow path names it
        return None
    return FastPoint(
        kind, run_id, ts_ms, series, fields, data["t"], data.get("line"), data.get("station")
    )
