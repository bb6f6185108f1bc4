"""The fast payload path takes only what the authoritative path accepts, with the same point."""

from __future__ import annotations

import itertools
from typing import Any

import orjson
import pytest

from gateway.normalize import Accepted, Normalizer, RawMessage
from plant_sim import payloads
from plant_sim.payload_points import fast_point
from plant_sim.records import Record, RunStart
from plant_sim.telemetry_schema import point_parts
from tests.gateway.helpers import envelope, run_log

BAD_VALUES: list[Any] = [
    None,
    True,
    0,
    -1,
    2**63,
    1.5,
    float("inf"),
    "",
    "x",
    'q"uote',
    "back\\slash",
    "new\nline",
    "a b,c=d",
    "é🏭",
    "x" * 70_000,
    [],
    ["a"],
    {},
    {"a": 1},
]


@pytest.fixture(scope="module")
def records() -> list[Record]:
    out = run_log(26 * 3600.0, seed=5, scenario="bottling_line")  # with shift changes
    for scenario in ("plant_3lines", "tandem_mm1"):
        out += run_log(1800.0, seed=5, scenario=scenario)
    return out


def test_every_simulated_record_gives_the_authoritative_point(records: list[Record]) -> None:
    run_id, start_ms = envelope(records)
    kinds = set()
    for rec in records:
        point = fast_point(payloads.encode(rec, run_id, start_ms))
        if isinstance(rec, RunStart):
            assert point is None  # always the authoritative path
            continue
        assert point is not None, rec
        assert (point.series, point.fields) == point_parts(rec, run_id)
        assert (point.kind, point.run_id, point.t) == (rec.kind, run_id, rec.t)
        assert point.ts_ms == payloads.epoch_ms(start_ms, rec.t)
        assert (point.line, point.station) == (
            getattr(rec, "line", None),
            getattr(rec, "station", None),
        )
        kinds.add(rec.kind)
    assert kinds >= {"state", "part", "release", "exit", "buffer", "sample", "order", "shift"}


def _mutations(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Each key removed, each key set to each bad value, and an unknown key added."""
    out = [{**data, "unknown": 1}]
    for k in data:
        out.append({key: v for key, v in data.items() if key != k})
        out += [{**data, k: bad} for bad in BAD_VALUES]
    return out


def test_fast_path_never_accepts_what_the_slow_path_refuses(records: list[Record]) -> None:
    run_id, start_ms = envelope(records)
    start = payloads.encode(records[0], run_id, start_ms)
    plant = records[0]
    assert isinstance(plant, RunStart)
    samples = {}
    for rec in records[1:]:
        if getattr(rec, "line", None) in {"line1", None} or rec.kind == "order":
            samples.setdefault(rec.kind, rec)  # one record of each kind
    checked = taken = 0
    for rec, with_run in itertools.product(samples.values(), (False, True)):
        topic = (
            payloads.route(rec, plant.enterprise, plant.site, plant.area)[0] if with_run else None
        )
        for data in _mutations(orjson.loads(payloads.encode(rec, run_id, start_ms))):
            payload = orjson.dumps(data)
            fast, slow = Normalizer(), Normalizer()
            if with_run:
                for n in (fast, slow):
                    n.normalize(RawMessage("mqtt", start))
                    n.normalize(RawMessage("mqtt", payloads.encode(rec, run_id, start_ms), topic))
            got = fast.normalize(RawMessage("mqtt", payload, topic))
            want = slow.normalize_slowly(RawMessage("mqtt", payload, topic))
            assert got == want, data
            checked += 1
            taken += fast_point(payload) is not None and isinstance(got, Accepted)
    assert checked > 1000 and 0 < taken < checked
