"""Normalizer: bad payloads are rejected with a reason naming the field; good ones become points."""

from __future__ import annotations

import orjson
import pytest

from gateway.normalize import Accepted, Normalizer, RawMessage, Rejected
from plant_sim import naming, payloads
from plant_sim.records import BufferLevel, PartDone, RunStart, StateChange
from plant_sim.states import StationState
from plant_sim.telemetry_schema import point_parts

START = 1_767_571_200_000
RUN = RunStart(
    0.0,
    "r1",
    "sc",
    7,
    START,
    None,
    "acme",
    "plant1",
    "area",
    [{"line": "line1", "stations": ["s1", "s 2"], "buffers": ["b1"]}],
)


def raw(payload: bytes, topic: str | None = None) -> RawMessage:
    return RawMessage("mqtt", payload, topic)


@pytest.fixture
def norm() -> Normalizer:
    n = Normalizer()
    assert isinstance(n.normalize(raw(payloads.encode(RUN, "r1", START))), Accepted)
    assert [run_id for run_id, _ in n.new_runs] == ["r1"]
    return n


def reason(n: Normalizer, payload: bytes, topic: str | None = None) -> str:
    res = n.normalize(raw(payload, topic))
    assert isinstance(res, Rejected), res
    return res.reason


def good(t: float = 1.0, station: str = "s1") -> StateChange:
    return StateChange(t, "line1", station, StationState.PROCESSING, None, 2.0)


def test_good_record_becomes_a_point(norm: Normalizer) -> None:
    rec = good()
    topic = payloads.route(rec, "acme", "plant1", "area")[0]
    res = norm.normalize(raw(payloads.encode(rec, "r1", START), topic))
    assert isinstance(res, Accepted)
    assert res.series == "machine_state,line=line1,run_id=r1,station=s1"
    assert res.ts_ms == START + 1000 and res.kind == "state"
    assert (res.series, res.fields) == point_parts(rec, "r1")


def test_malformed_and_wrong_payloads_name_the_problem(norm: Normalizer) -> None:
    assert reason(norm, b"{not json").startswith("payload: not JSON")
    assert reason(norm, b"[1, 2]") == "payload: expected a JSON object"
    assert reason(norm, b"x" * (payloads.MAX_PAYLOAD_BYTES + 1)).startswith("payload: ")
    data = orjson.loads(payloads.encode(good(), "r1", START))
    assert reason(norm, orjson.dumps({**data, "t": "soon"})).startswith("t:")
    assert reason(norm, orjson.dumps({**data, "power_kw": [1]})).startswith("power_kw:")
    assert reason(norm, orjson.dumps({**data, "state": "dancing"})).startswith("state")
    assert reason(norm, orjson.dumps({**data, "kind": "nope"})).startswith("kind:")
    assert reason(norm, orjson.dumps({**data, "extra": 1})).startswith("state: unknown field")
    assert reason(norm, orjson.dumps({**data, "ts_ms": "x"})).startswith("ts_ms:")
    assert reason(norm, orjson.dumps({**data, "ts_ms": -5})).startswith("ts_ms:")
    assert reason(norm, orjson.dumps({**data, "run_id": 3})).startswith("run_id:")
    del data["line"]
    assert "line" in reason(norm, orjson.dumps(data))


def test_records_that_do_not_fit_their_run_are_rejected(norm: Normalizer) -> None:
    assert reason(norm, payloads.encode(good(station="ghost"), "r1", START)).startswith("station:")
    bad_line = BufferLevel(1.0, "line9", "b1", 1, None)
    assert reason(norm, payloads.encode(bad_line, "r1", START)).startswith("line:")
    data = orjson.loads(payloads.encode(good(), "r1", START))
    assert reason(norm, orjson.dumps({**data, "ts_ms": data["ts_ms"] + 7})).startswith("ts_ms:")
    assert reason(norm, payloads.encode(good(), "r1", START), "acme/x/y/z/q/state").startswith(
        "topic:"
    )


def test_unknown_runs_are_accepted_unchecked() -> None:
    res = Normalizer().normalize(raw(payloads.encode(good(station="any"), "r9", START)))
    assert isinstance(res, Accepted)


def test_hostile_but_storable_names_are_accepted(norm: Normalizer) -> None:
    rec = PartDone(3.0, "line1", "s 2", "p,1=2", 'prod "x" é', None, "good", 1.0, 1.0)
    res = norm.normalize(raw(payloads.encode(rec, "r1", START)))
    assert isinstance(res, Accepted), res
    assert r"product=prod\ \"x\"\ é" in res.series or 'product=prod\\ "x"\\ é' in res.series


@pytest.mark.parametrize(
    ("record", "run_id", "field"),
    [
        (StateChange(1.0, "line1", "s\t1", StationState.IDLE, None, 1.0), "r9", "station"),
        (BufferLevel(1.0, "l" * 257, "b1", 3, 10), "r9", "line"),
        (PartDone(1.0, "line1", "s1", "p1", "a\x7f", None, "good", 1.0, 1.0), "r9", "product"),
        (good(), "r\x00", "run_id"),
    ],
)
def test_a_name_the_twin_refuses_is_rejected_naming_the_field(
    record: object, run_id: str, field: str
) -> None:
    value = run_id if field == "run_id" else getattr(record, field)
    assert naming.name_problem(value) is not None  # the twin refuses it (naming.check_name)
    payload = payloads.encode(record, run_id, START)  # type: ignore[arg-type]
    assert reason(Normalizer(), payload).startswith(f"{field}: ")


def test_run_start_with_unusable_plant_names_is_refused_not_fatal(norm: Normalizer) -> None:
    data = orjson.loads(payloads.encode(RUN, "r2", START))
    for key, value in (("lines", True), ("enterprise", 7), ("site", "🏭"), ("start_epoch_ms", "x")):
        bad = {**data, key: value}
        assert f"{key}: " in reason(norm, orjson.dumps(bad))
    odd = RunStart(0.0, "r3", "sc", 7, START, None, "acme", "plant1", "area",
                   [{"line": "🏭", "stations": ["s1"], "buffers": []}])  # fmt: skip
    assert isinstance(norm.normalize(raw(payloads.encode(odd, "r3", START))), Accepted)
    rec = StateChange(1.0, "🏭", "s1", StationState.IDLE, None, 1.0)
    assert reason(norm, payloads.encode(rec, "r3", START), "acme/x/state").startswith("topic: ")


def test_a_time_no_timestamp_can_carry_is_rejected_naming_t(norm: Normalizer) -> None:
    body = payloads.encode(good(), "r1", START)
    assert b'"t":1.0,' in body
    for t in (b"1e308", b"-1e308", b"1e300", b"1e20", b"18446744073709551615"):
        assert reason(norm, body.replace(b'"t":1.0,', b'"t":' + t + b",")).startswith("t: ")
