"""Every record kind, hostile names included, survives a round trip through a real InfluxDB 1.x."""

from __future__ import annotations

from collections import Counter

import httpx
import pytest

from plant_sim import telemetry_schema as ts
from plant_sim.records import (
    BufferLevel,
    OrderEvent,
    PartDone,
    PartLeft,
    PartReleased,
    ProcessSample,
    RunEnd,
    RunStart,
    ScenarioEvent,
    ShiftChange,
    StateChange,
    StockLevel,
)
from plant_sim.states import StationState
from tests.gateway.helpers import key, read_stored
from tests.servers.influxdb import InfluxServer

pytestmark = pytest.mark.integration

HOSTILE = ["line 1,a=b", "stä\"tion' x", "prod=uct,é 😀", "名字 ü"]


def sample_records() -> list:
    L, S, P, N = HOSTILE  # noqa: N806
    return [
        RunStart(
            0,
            "r 1",
            "sc,x",
            7,
            1_000,
            8.5,
            "ac me",
            "p=1",
            "a,1",
            [{"line": L, "stations": [S], "buffers": ["b 1"]}],
        ),
        StateChange(0.001, L, S, StationState.SETUP, 'changeover "A→B" \\ ok', 2.25, P),
        StateChange(0.001, L, S, StationState.PROCESSING, None, 3.0, P),
        StateChange(0.001, L, S, StationState.SETUP, 'changeover "A→B" \\ ok', 2.25, P),
        PartDone(1.5, L, S, "part=1", P, None, "scrap", 31.2, 30.0),
        PartReleased(2.0, L, "p2", P, "o,1"),
        PartLeft(3.0, L, "p2", P, "o,1", "finished", 1.0),
        BufferLevel(4.0, L, "b 1", 3, None),
        BufferLevel(4.0, L, "b 1", 4, 10),
        ProcessSample(5.0, L, S, 71.25, 4.5, 1234.5678901234, 0.9),
        OrderEvent(6.0, "o,1", P, 12, 3600.0, "arrived", None),
        OrderEvent(6.0, "o 2", P, 1, 7200.0, "arrived", L),
        StockLevel(7.0, N, 1e-7, "delivery"),
        ShiftChange(8.0, "early shift"),
        ShiftChange(9.0, None),
        ScenarioEvent(10.0, "outage", "supplier_outage", "start", N),
        RunEnd(1e6 + 0.123),
    ]


def test_round_trip_through_real_influxdb(influxd: InfluxServer, influx_db: str) -> None:
    records = sample_records()
    lines, seqs = [], {}
    for rec in records:
        series, fields = ts.point_parts(rec, "r 1", "mqtt")
        ts_ms = 1_000 + round(rec.t * 1000)
        seq = seqs[(series, ts_ms)] = seqs.get((series, ts_ms), -1) + 1
        lines.append(ts.line(series, fields, ts_ms, seq))
    resp = httpx.post(
        f"{influxd.url}/write",
        params={"db": influx_db, "precision": "ns"},
        content="\n".join(lines).encode(),
    )
    assert resp.status_code == 204, resp.text
    stored = read_stored(influxd, influx_db, "r 1")
    assert Counter(key(s.record) for s in stored) == Counter(key(r) for r in records)
    states = [s.record for s in stored if s.record.kind == "state"]
    assert [s.state for s in states] == ["setup", "processing", "setup"]
    assert {s.source for s in stored} == {"mqtt"}
    tags = influxd.query('SHOW TAG VALUES FROM "machine_state" WITH KEY = "station"', influx_db)
    assert tags["results"][0]["series"][0]["values"] == [["station", HOSTILE[1]]]
