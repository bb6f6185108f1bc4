"""Property tests of the gateway's normaliser and the line-protocol encoder (issue 14 #7).

Every record kind, with extreme values in every field (±1e308, subnormals, -0.0, huge integers,
empty and 64 KB strings, line breaks, wrong types): the normaliser answers ``Accepted`` or
``Rejected`` and never raises; the encoder raises nothing but ``SchemaError``; what the twin
encodes and the encoder takes, the gateway stores as the same point.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.normalize import Accepted, Normalizer, RawMessage, Rejected
from plant_sim import naming, payloads
from plant_sim.records import (
    RECORD_TYPES,
    BufferLevel,
    OrderEvent,
    PartDone,
    PartLeft,
    PartReleased,
    ProcessSample,
    Record,
    RunEnd,
    RunStart,
    ScenarioEvent,
    ShiftChange,
    StateChange,
    StockLevel,
    to_dict,
)
from plant_sim.states import StationState
from plant_sim.telemetry_schema import MAX_TS_MS, SCHEMAS, SchemaError, check_ts_ms, point_parts

START = 1_767_571_200_000
RUN = RunStart(
    0.0, "r1", "sc", 7, START, None, "acme", "p1", "a1",
    [{"line": "l1", "stations": ["s1"], "buffers": ["b1"]}],
)  # fmt: skip
FUZZ = settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)

EXTREME_FLOATS = st.sampled_from(
    [1e308, -1e308, 5e-324, -5e-324, -0.0, 0.0, 2.2250738585072014e-308]
)
FLOATS = st.one_of(EXTREME_FLOATS, st.floats(allow_nan=False, allow_infinity=False))
HUGE_INTS = st.sampled_from([2**63 - 1, -(2**63), 2**63, 2**64, 10**30, -(10**30)])
INTS = st.one_of(HUGE_INTS, st.integers(-(2**70), 2**70))
STRINGS = st.one_of(
    st.sampled_from(
        ["", "l1", "s1", "b1", "x" * 65_536, "x" * 70_000, "a\nb", "a\\b", 'q"', "é🏭"]
    ),
    st.text(max_size=30),
)
ANY_VALUE = st.one_of(FLOATS, INTS, STRINGS, st.none(), st.booleans(), st.just([]), st.just({}))


def _value_for(hint: Any) -> st.SearchStrategy[Any]:
    args = set(typing.get_args(hint)) - {type(None)}
    base = next(iter(args)) if args else hint
    by_type: dict[Any, st.SearchStrategy[Any]] = {
        float: FLOATS,
        int: INTS,
        str: STRINGS,
        StationState: st.one_of(st.sampled_from([s.value for s in StationState]), STRINGS),
    }
    typed = by_type.get(base, ANY_VALUE)
    return st.one_of(typed, typed, typed, ANY_VALUE)  # mostly the right type, sometimes not


VALID: dict[str, Record] = {
    r.kind: r
    for r in (
        RUN,
        RunEnd(9.0),
        StateChange(1.0, "l1", "s1", StationState.PROCESSING, "r", 2.0, "p"),
        PartDone(1.0, "l1", "s1", "p1", "a", "o1", "good", 1.0, 1.0),
        PartReleased(1.0, "l1", "p1", "a", None),
        PartLeft(1.0, "l1", "p1", "a", "o1", "finished", 5.0),
        BufferLevel(1.0, "l1", "b1", 3, 10),
        ProcessSample(1.0, "l1", "s1", 60.0, 2.0, 1.5),
        OrderEvent(1.0, "o1", "a", 5, 100.0, "placed", "l1"),
        StockLevel(1.0, "m", 3.0, "delivery"),
        ShiftChange(1.0, "early"),
        ScenarioEvent(1.0, "surge", "demand_surge", "start"),
    )
}
assert set(VALID) == set(RECORD_TYPES)


@st.composite
def record_dicts(draw: st.DrawFn, kinds: list[str] | None = None) -> dict[str, Any]:
    """A valid record's dict form (kind included) with some fields fuzzed; ``t`` often extreme."""
    kind = draw(st.sampled_from(kinds or sorted(RECORD_TYPES)))
    data = to_dict(VALID[kind])
    hints = typing.get_type_hints(RECORD_TYPES[kind])
    for f in dataclasses.fields(RECORD_TYPES[kind]):
        if f.name == "t":
            data["t"] = draw(st.one_of(EXTREME_FLOATS, FLOATS))
        elif f.default is not dataclasses.MISSING and draw(st.integers(0, 4)) == 0:
            data.pop(f.name, None)
        elif draw(st.integers(0, 2)) == 0:
            data[f.name] = draw(_value_for(hints[f.name]))
    return data


def _ts_ms(data: dict[str, Any], draw: st.DrawFn) -> Any:
    t = data.get("t")
    if type(t) in (int, float) and abs(t) < 1e9 and draw(st.booleans()):
        return payloads.epoch_ms(START, t)  # consistent: the checks go deeper
    return draw(st.one_of(st.integers(0, MAX_TS_MS), st.integers(0, MAX_TS_MS), INTS, ANY_VALUE))


@st.composite
def payload_bytes(draw: st.DrawFn) -> bytes:
    data = draw(record_dicts())
    data["run_id"] = draw(st.one_of(st.just("r1"), st.just("r1"), STRINGS, ANY_VALUE))
    data["ts_ms"] = _ts_ms(data, draw)
    return json.dumps(data).encode()  # json, not orjson: huge integers are allowed here


def _known_run() -> Normalizer:
    norm = Normalizer()
    assert isinstance(
        norm.normalize(RawMessage("mqtt", payloads.encode(RUN, "r1", START))), Accepted
    )
    return norm


@FUZZ
@given(payload=payload_bytes(), with_topic=st.booleans())
def test_the_normaliser_accepts_or_rejects_every_payload_and_never_raises(
    payload: bytes, with_topic: bool
) -> None:
    norm = _known_run()
    raw = RawMessage("mqtt", payload, "acme/p1/a1/l1/s1/state" if with_topic else None)
    res = norm.normalize(raw)
    assert type(res) in (Accepted, Rejected)
    slow = _known_run().normalize_slowly(raw)
    assert type(slow) is type(res)  # the fast path never decides otherwise than the slow one
    if type(res) is Accepted:
        assert res == slow
        check_ts_ms(res.ts_ms)
        assert "\n" not in res.series + res.fields and "\r" not in res.series + res.fields
    else:
        assert res.reason


@FUZZ
@given(data=record_dicts())
def test_the_encoder_raises_nothing_but_a_schema_error(data: dict[str, Any]) -> None:
    record = RECORD_TYPES[data.pop("kind")](**data)
    try:
        series, fields = point_parts(record, "r1")
    except SchemaError as exc:
        assert str(exc)
        return
    assert "\n" not in series + fields and "\r" not in series + fields


@FUZZ
@given(data=record_dicts([k for k in RECORD_TYPES if k != "run_start"]))
def test_what_the_twin_encodes_and_the_encoder_takes_is_stored_as_that_point(
    data: dict[str, Any],
) -> None:
    record: Record = RECORD_TYPES[data.pop("kind")](**data)
    try:
        parts = point_parts(record, "r-unknown")
        payload = payloads.encode(record, "r-unknown", START)
    except (SchemaError, payloads.PayloadError, TypeError):  # TypeError: over 64-bit for JSON
        return
    res = Normalizer().normalize(RawMessage("mqtt", payload))
    if isinstance(res, Rejected):  # only for what no timestamp or payload can carry
        assert res.reason.startswith(("ts_ms:", "payload:")), res
        return
    assert (res.series, res.fields) == parts


NAMES = st.one_of(
    st.sampled_from(
        ["s1", "s 2", 'p "x" é,=', "🏭", "", "a\tb", "a\x00", "a\x7f", "a\\b", "a\nb", "x" * 257]
    ),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=300),
)
TAGGED = [(kind, tag) for kind, s in SCHEMAS.items() for tag in s.tags if kind != "run_start"]


@FUZZ
@given(kind_tag=st.sampled_from(TAGGED), name=NAMES)
def test_the_gateway_stores_every_name_the_twin_accepts_and_no_other(
    kind_tag: tuple[str, str], name: str
) -> None:
    kind, tag = kind_tag
    data = {**to_dict(VALID[kind]), "run_id": "r1", "ts_ms": START}
    data[tag] = name
    res = Normalizer().normalize(RawMessage("mqtt", json.dumps(data).encode()))
    problem = naming.name_problem(name)  # the twin's check (naming.check_name)
    if problem is None:
        assert isinstance(res, Accepted), (res, name)
    else:
        assert isinstance(res, Rejected) and res.reason == f"{tag}: {problem}", (res, name)
