"""The MQTT publisher against a real Mosquitto: content, retained state, will, restarts."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from plant_sim import payloads
from plant_sim.live.commands import SetSpeed
from plant_sim.live.layout import PlantLayout
from plant_sim.live.mqtt_publisher import MqttError, MqttPublisher, MqttSettings
from plant_sim.live.service import LiveConfig
from plant_sim.live.uns import uns_fields
from plant_sim.records import StateChange, to_dict
from plant_sim.scenario import Scenario
from plant_sim.simulation import run_batch
from plant_sim.states import StationState
from tests.live.helpers import Received, Subscriber, async_wait_until, launch, wait_until
from tests.servers.mosquitto import Mosquitto, free_port

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
UNTIL = 6.2 * 3600  # the first shift starts at 06:00
UNLIMITED_QUEUE = "max_queued_messages 0"


def config(url: str, speed: float, until: float = UNTIL, **mqtt: object) -> LiveConfig:
    settings = MqttSettings(url=url, client_id=f"sim-{free_port()}", **mqtt)  # type: ignore[arg-type]
    return LiveConfig(speed=speed, seed=11, until_s=until, opcua=None, mqtt=settings)


async def test_subscriber_receives_the_event_log(
    bottling: Scenario, mosquitto_factory: Callable[..., Mosquitto]
) -> None:
    # Mosquitto drops QoS 1 messages beyond max_queued_messages (1000) even for a connected
    # subscriber that lags; a bursty high-speed run needs a larger queue (see docs/live.md).
    mosquitto = mosquitto_factory(extra_conf=[UNLIMITED_QUEUE])
    sub = Subscriber(mosquitto.port, [("acme/plant1/bottling/#", 1)]).start()
    task, runner = await launch(bottling, config(mosquitto.url, 200_000, qos_samples=1))
    await task
    expected = run_batch(bottling, UNTIL, seed=11).records
    run_id, start = runner.model.run_id, runner.model.start_epoch_ms

    def records() -> list[Received]:
        return [m for m in sub.snapshot() if not m.topic.endswith(("/status", "/result"))]

    await async_wait_until(lambda: len(records()) >= len(expected), 20, "all records")
    sub.stop()
    got = records()
    decoded = [payloads.decode(m.payload) for m in got]
    assert [to_dict(r) for r, _, _ in decoded] == [to_dict(r) for r in expected]
    assert {rid for _, rid, _ in decoded} == {run_id}
    for m, rec in zip(got, expected, strict=True):
        topic, _, _ = payloads.route(rec, "acme", "plant1", "bottling")
        assert m.topic == topic
        doc = orjson.loads(m.payload)
        assert doc["ts_ms"] == payloads.epoch_ms(start, rec.t)
        if rec.kind == "state":  # readable extras: the state in each standard's numbering
            assert doc["uns"]["value"] == rec.state.value
            assert doc["uns"]["machinery_state_num"] in (0, 1, 2, 3)


async def test_state_is_retained_and_status_goes_offline(
    bottling: Scenario, mosquitto: Mosquitto
) -> None:
    task, _ = await launch(bottling, config(mosquitto.url, 500_000))
    await task
    expected = run_batch(bottling, UNTIL, seed=11).records
    last = {r.station: r for r in expected if isinstance(r, StateChange)}
    late = Subscriber(
        mosquitto.port,
        [("acme/plant1/bottling/+/+/state", 1), ("acme/plant1/bottling/_plant/status", 1)],
    ).start()
    wait_until(lambda: len(late.snapshot()) >= len(last) + 1, 5, "retained messages")
    late.stop()
    msgs = {m.topic: m for m in late.snapshot()}
    assert all(m.retain for m in msgs.values())
    for station, rec in last.items():
        got, _, _ = payloads.decode(msgs[f"acme/plant1/bottling/line1/{station}/state"].payload)
        assert to_dict(got) == to_dict(rec)
    status = orjson.loads(msgs["acme/plant1/bottling/_plant/status"].payload)
    assert status["online"] is False and status["reason"] == "stopped"


def test_last_will_marks_the_simulator_offline_when_killed(mosquitto: Mosquitto) -> None:
    sub = Subscriber(mosquitto.port, [("acme/plant1/bottling/_plant/status", 1)]).start()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "twin",
            "sim",
            str(ROOT / "scenarios" / "bottling_line.yaml"),
            "--no-opcua",
            "--mqtt-url",
            mosquitto.url,
            "--speed",
            "60",
            "--mqtt-required",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:

        def status() -> list[dict[str, object]]:
            return [orjson.loads(m.payload) for m in sub.snapshot()]

        wait_until(lambda: any(s["online"] is True for s in status()), 20, "online status")
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        wait_until(lambda: status()[-1]["online"] is False, 10, "the last will")
        will, online = status()[-1], [s for s in status() if s["online"] is True][-1]
        assert will["reason"] == "connection lost"
        # not dated before the "online" it follows: the will cannot know when it is sent
        assert will["ts_ms"] is None or will["ts_ms"] >= online["ts_ms"]  # type: ignore[operator]
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        sub.stop()


async def test_broker_restart_mid_run_loses_no_qos1_event(
    bottling: Scenario, mosquitto_factory: Callable[..., Mosquitto]
) -> None:
    broker = mosquitto_factory(extra_conf=[UNLIMITED_QUEUE])
    sub = Subscriber(
        broker.port, [("acme/plant1/bottling/#", 1)], client_id="durable-sub", persistent=True
    ).start()
    start, until = 6 * 3600, 6.5 * 3600  # the first half hour of the shift, ~6 s of wall time
    gate = asyncio.Event()
    cfg = config(broker.url, 300, until=until, reconnect_max_s=1.0)
    task, runner = await launch(bottling, cfg, gate=gate)
    pub = next(s for s in runner.sinks if isinstance(s, MqttPublisher))
    runner.model.run(start)  # skip the night: its records go out in the first flush
    gate.set()
    samples: list[tuple[float, bool, int]] = []

    async def watch() -> None:
        while not task.done():
            samples.append((runner.model.now, pub.connected, pub.pending()))
            await asyncio.sleep(0.01)

    watcher = asyncio.create_task(watch())
    await async_wait_until(lambda: runner.model.now > start + 600, 20, "10 min of the shift")
    await asyncio.to_thread(broker.restart, 1.0)
    assert runner.model.now < until - 300, "the restart should be well inside the run"
    await task
    await watcher
    assert pub.stats.connects >= 2, "the publisher did not reconnect"
    outage = [(t, n) for t, up, n in samples if not up]
    assert outage, "the outage was not seen"
    assert max(n for _, n in outage) > 0, "nothing was queued during the outage"
    qos1 = [
        r
        for r in run_batch(bottling, until, seed=11).records
        if payloads.route(r, "acme", "plant1", "bottling")[2] == 1
    ]
    expected = [orjson.dumps(to_dict(r)) for r in qos1]
    t_down, t_up = min(t for t, _ in outage), max(t for t, _ in outage)
    during = [r for r in qos1 if t_down <= r.t <= t_up]
    assert during, "no QoS 1 event fell into the outage"

    def received() -> set[bytes]:
        return {
            orjson.dumps(to_dict(payloads.decode(m.payload)[0]))
            for m in sub.snapshot()
            if m.qos == 1 and not m.topic.endswith(("/status", "/result"))
        }

    with contextlib.suppress(AssertionError):  # the assertion below says what is missing
        await async_wait_until(lambda: set(expected) <= received(), 30, "every QoS 1 event")
    sub.stop()
    missing = set(expected) - received()
    assert not missing, f"{len(missing)} of {len(expected)} lost, e.g. {sorted(missing)[:3]}"
    assert len(expected) > 1000


async def test_commands_over_mqtt_act_and_bad_ones_are_answered(
    bottling: Scenario, mosquitto: Mosquitto
) -> None:
    prefix = "acme/plant1/bottling"
    sub = Subscriber(
        mosquitto.port, [(f"{prefix}/_plant/cmd/result", 1), (f"{prefix}/line1/filler/state", 1)]
    ).start()
    task, runner = await launch(bottling, config(mosquitto.url, 20_000, until=None))
    try:
        # failures strike only while a station works: wait for the first shift, then slow down
        await async_wait_until(lambda: runner.model.now > 6.1 * 3600, 10, "the shift")
        await runner.execute(SetSpeed(1.0))
        pub = sub.client
        pub.publish(f"{prefix}/_plant/cmd", b'{"command":"set_speed","speed":120,"id":"a3"}', 1)
        pub.publish(
            f"{prefix}/_plant/cmd",
            b'{"command":"inject_failure","station":"filler",'
            b'"duration_s":300,"reason":"mqtt-test","id":"a1"}',
            1,
        )
        pub.publish(
            f"{prefix}/_plant/cmd",
            b'{"command":"inject_failure","station":"nope","duration_s":300,"id":"a2"}',
            1,
        )

        def results() -> dict[str, dict[str, object]]:
            out = {}
            for m in sub.snapshot():
                if m.topic.endswith("/result"):
                    body = orjson.loads(m.payload)
                    out[body["id"]] = body
            return out

        await async_wait_until(lambda: len(results()) == 3, 20, "three command results")
        res = results()
        assert res["a1"]["ok"] is True and res["a3"]["ok"] is True
        assert res["a2"]["ok"] is False and "station" in str(res["a2"]["error"])
        assert runner.clock.speed == 120

        def down() -> bool:
            for m in sub.snapshot():
                if m.topic.endswith("/state"):
                    rec, _, _ = payloads.decode(m.payload)
                    if rec.state == StationState.DOWN and rec.reason == "mqtt-test":
                        return True
            return False

        await async_wait_until(down, 10, "filler DOWN with the injected reason")
    finally:
        runner.stop()
        await task
        sub.stop()


async def test_unreachable_broker_gives_a_clear_message(bottling: Scenario) -> None:
    port = free_port()
    pub = MqttPublisher(
        PlantLayout.from_scenario(bottling),
        MqttSettings(url=f"mqtt://127.0.0.1:{port}", connect_timeout_s=0.5, require_broker=True),
    )
    with pytest.raises(MqttError, match=rf"127\.0\.0\.1:{port} is unreachable"):
        await pub.start()


async def test_publisher_retries_until_the_broker_comes(
    bottling: Scenario, mosquitto: Mosquitto
) -> None:
    mosquitto.stop()
    pub = MqttPublisher(
        PlantLayout.from_scenario(bottling), MqttSettings(url=mosquitto.url, connect_timeout_s=0.2)
    )
    await pub.start()  # not required: warns and goes on
    try:
        assert not pub.connected
        records = run_batch(bottling, 3600, seed=1).records[:50]
        await pub.publish(records)
        await asyncio.to_thread(mosquitto.start)
        await async_wait_until(lambda: pub.connected, 15, "the reconnect")
        assert await pub.drain(10)
        assert pub.stats.dropped_queue_full == 0
    finally:
        await pub.stop()


async def test_full_queue_while_disconnected_blocks_instead_of_dropping(
    bottling: Scenario, mosquitto_factory: Callable[..., Mosquitto]
) -> None:
    broker = mosquitto_factory(extra_conf=[UNLIMITED_QUEUE])
    sub = Subscriber(
        broker.port, [("acme/plant1/bottling/#", 1)], client_id="durable-q", persistent=True
    ).start()
    await asyncio.to_thread(broker.stop)
    settings = MqttSettings(
        url=broker.url, connect_timeout_s=0.2, max_queued=200, reconnect_max_s=1.0
    )
    pub = MqttPublisher(PlantLayout.from_scenario(bottling), settings)
    records = run_batch(bottling, 6.2 * 3600, seed=1).records
    qos1 = [r for r in records if payloads.route(r, "acme", "plant1", "bottling")[2] == 1]
    assert len(qos1) > 3 * settings.max_queued
    await pub.start()
    try:
        task = asyncio.create_task(pub.publish(records))
        await asyncio.sleep(1.5)
        assert not task.done(), "publish went on although the queue was full"
        assert pub.pending() <= settings.max_queued + 50
        await asyncio.to_thread(broker.start)
        await asyncio.wait_for(task, 60)
        assert await pub.drain(30)
        assert pub.stats.dropped_queue_full == 0
        assert pub.stats.connects >= 1
    finally:
        await pub.stop()
    expected = {orjson.dumps(to_dict(r)) for r in qos1}

    def received() -> set[bytes]:
        return {
            orjson.dumps(to_dict(payloads.decode(m.payload)[0]))
            for m in sub.snapshot()
            if m.qos == 1 and not m.topic.endswith(("/status", "/result"))
        }

    with contextlib.suppress(AssertionError):
        await async_wait_until(lambda: expected <= received(), 30, "every QoS 1 event")
    sub.stop()
    assert not expected - received(), f"{len(expected - received())} of {len(expected)} lost"


def test_payloads_are_the_bytes_of_payloads_encode_plus_uns(bottling: Scenario) -> None:
    pub = MqttPublisher(PlantLayout.from_scenario(bottling), MqttSettings())
    pub.set_run("r-1", 1_767_571_200_123)
    records = run_batch(bottling, 7 * 3600, seed=3).records
    assert len(records) > 1000
    for rec in records:
        body = payloads.encode(rec, "r-1", 1_767_571_200_123)
        extra = uns_fields(rec)
        if extra:
            body = body[:-1] + b',"uns":' + orjson.dumps(extra) + b"}"
        assert pub._encode(rec) == body
