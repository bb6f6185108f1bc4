"""Runs the gateway does not know, and many runs: held with a reason, bounded (real servers).

A record of a run whose ``run_start`` the gateway has not seen is not stored unchecked: it is
held until the run_start comes (then checked and stored) or, when the hold is full, becomes a
dead letter. What the gateway keeps per run is bounded in memory and on disk.
"""

from __future__ import annotations

import dataclasses
import sqlite3
import time
from pathlib import Path

import orjson
import pytest

from gateway import buffer as buffer_module
from gateway.app import Gateway
from gateway.buffer import MAX_RUNS_STORED
from gateway.normalize import RawMessage
from gateway.runs import MAX_RUNS_IN_MEMORY
from plant_sim import payloads
from plant_sim.records import RunStart, StateChange
from tests.gateway import helpers as h
from tests.gateway.live_plant import LivePlant
from tests.servers.influxdb import InfluxServer, free_port
from tests.servers.mosquitto import Mosquitto

pytestmark = pytest.mark.integration
YEAR_2100_MS = 4_102_444_800_000


def _put(gw: Gateway, payload: bytes) -> None:
    gw.intake.put(RawMessage("mqtt", payload, None, received_ns=time.time_ns()))


def _count(gw: Gateway, name: str) -> int:
    return gw.stats.snapshot().get("mqtt", {}).get(name, 0)


def _points(influx: InfluxServer, db: str, run_id: str) -> int:
    return sum(1 for s in h.read_stored(influx, db, run_id))


def test_a_record_of_an_unknown_run_is_held_until_its_run_start(
    tmp_path: Path, influxd: InfluxServer, influx_db: str, broker: Mosquitto
) -> None:
    records = h.run_log(3600, seed=5)
    run_id, start = h.envelope(records)
    state = next(r for r in records if isinstance(r, StateChange))
    ghost_start = dataclasses.replace(records[0], run_id="ghost", start_epoch_ms=YEAR_2100_MS)
    gw = h.start_gateway(h.settings(tmp_path, influxd, influx_db, mqtt_url=broker.url))
    pub = h.connect_publisher(broker.port)
    try:
        h.publish(pub, [state], "ghost", YEAR_2100_MS, qos=1)  # no run_start, dated 2100
        h.publish(pub, records, run_id, start, qos=1)
        h.wait_stored(influxd, influx_db, len(records))
        h.wait_until(lambda: gw.buffer.held_count() == 1, 30, "the held record")
        assert _points(influxd, influx_db, "ghost") == 0
        assert _count(gw, "held") == 1
        h.publish(pub, [ghost_start], "ghost", YEAR_2100_MS, qos=1)  # now it starts
        h.wait_stored(influxd, influx_db, len(records) + 2)
        assert _points(influxd, influx_db, "ghost") == 2
        assert gw.buffer.held_count() == 0
    finally:
        pub.disconnect()
        gw.stop()


def test_the_hold_is_bounded_and_lets_go_as_dead_letters(
    tmp_path: Path,
    influxd: InfluxServer,
    influx_db: str,
    broker: Mosquitto,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    records = h.run_log(3600, seed=5)
    state = next(r for r in records if isinstance(r, StateChange))
    payload = payloads.encode(state, "ghost-00", YEAR_2100_MS)
    monkeypatch.setattr(buffer_module, "HELD_MAX_BYTES", 10 * len(payload))
    gw = h.start_gateway(h.settings(tmp_path, influxd, influx_db, mqtt_url=broker.url))
    try:
        for i in range(50):
            _put(gw, payloads.encode(state, f"ghost-{i:02d}", YEAR_2100_MS))
        h.wait_until(lambda: _count(gw, "dead_lettered") == 40, 30, "40 let go")
        assert gw.buffer.held_count() == 10
        assert gw.buffer.held_bytes == 10 * len(payload)
        letters = [orjson.loads(x) for x in gw.dead_letters.path.read_bytes().splitlines()]
        assert len(letters) == 40
        assert "no run_start of run 'ghost-00'" in letters[0]["reason"]
    finally:
        gw.stop()
    assert h.count_stored(influxd, influx_db) == 0


def test_what_is_kept_per_run_is_bounded(
    tmp_path: Path, influxd: InfluxServer, influx_db: str, broker: Mosquitto
) -> None:
    """10,000 distinct run_start messages: bounded runs in memory and on disk, also restarted."""
    records = h.run_log(3600, seed=5)
    first = records[0]
    assert isinstance(first, RunStart)
    state = next(r for r in records if isinstance(r, StateChange))
    n_runs = 10_000
    cfg = h.settings(tmp_path, influxd, influx_db, mqtt_url=broker.url)
    gw = h.start_gateway(cfg)
    try:
        for i in range(n_runs):
            run = dataclasses.replace(first, run_id=f"run-{i}")
            _put(gw, payloads.encode(run, run.run_id, run.start_epoch_ms))
        h.wait_until(lambda: _count(gw, "records_in") == n_runs, 120, "every run_start")
        h.wait_until(lambda: len(gw.buffer) == 0, 120, "everything written")
        assert len(gw.ingest.normalizer.runs) <= MAX_RUNS_IN_MEMORY  # type: ignore[union-attr]
    finally:
        gw.stop()
    with sqlite3.connect(Path(cfg.data_dir) / "buffer.sqlite") as db:
        assert db.execute("SELECT count(*) FROM runs").fetchone()[0] == MAX_RUNS_STORED
    gw = h.start_gateway(cfg)  # restarted: reads back a bounded number of runs
    try:
        assert len(gw.ingest.normalizer.runs) <= MAX_RUNS_IN_MEMORY  # type: ignore[union-attr]
        recent = f"run-{n_runs - MAX_RUNS_STORED}"  # on disk, not in memory: read back, checked
        assert recent not in gw.ingest.normalizer.runs  # type: ignore[union-attr]
        _put(gw, payloads.encode(state, recent, first.start_epoch_ms))
        _put(gw, payloads.encode(state, "run-0", first.start_epoch_ms))  # forgotten: held
        h.wait_until(lambda: gw.buffer.held_count() == 1, 30, "run-0's record held")
        h.wait_until(lambda: _points(influxd, influx_db, recent) == 2, 30, "the recent run's")
        assert len(gw.ingest.normalizer.runs) <= MAX_RUNS_IN_MEMORY  # type: ignore[union-attr]
    finally:
        gw.stop()


def test_an_opcua_gateway_that_joins_mid_run_reads_the_run_start(
    tmp_path: Path, influxd: InfluxServer, influx_db: str
) -> None:
    """Events before its subscription never reach it: it reads Simulator/RunStart instead."""
    plant = LivePlant(free_port(), None, until_s=4 * 3600, speed=600)
    plant.serve()
    plant.run()
    h.wait_until(lambda: len(plant.truth) > 200, 60, "the run under way")
    gw = h.start_gateway(
        h.settings(tmp_path, influxd, influx_db, opcua_endpoint=plant.opcua_endpoint)
    )
    try:
        plant.wait(120)
        truth = plant.truth
        run_id = truth[0].run_id  # type: ignore[attr-defined]
        h.wait_until(lambda: _points(influxd, influx_db, run_id) > 100, 60, "records stored")
        h.wait_until(lambda: len(gw.buffer) == 0, 30, "an empty buffer")
        assert gw.buffer.held_count() == 0
        assert _count_of(gw, "opcua", "dead_lettered") == 0
        stored = h.read_stored(influxd, influx_db, run_id)
        assert isinstance(stored[0].record, RunStart)  # the run_start point, from the variable
    finally:
        gw.stop()


def _count_of(gw: Gateway, source: str, name: str) -> int:
    return gw.stats.snapshot().get(source, {}).get(name, 0)
