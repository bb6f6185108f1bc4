"""Issue 14 items 5, 6 and 6b: what the live twin says must be true and visible.

- 5: a shutdown drain that gives up ends ``twin sim`` with exit code 1 and an error line;
- 6: QoS 0 messages dropped while the broker is away are logged, counted on the retained
  status topic and on OPC UA (``Simulator.MqttDroppedQoS0``);
- 6b: a refused command that was recognised names it on ``cmd/result``; raising the speed of a
  run that lags says that it catches up (log, command result, OPC UA ``Simulator.Notice``).
  (The last will's time is checked in test_mqtt.py's last-will test.)
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
from asyncua import Client, ua

from plant_sim.live.commands import SetSpeed
from plant_sim.live.mqtt_publisher import MqttSettings
from plant_sim.live.opcua_server import OpcUaSettings
from plant_sim.live.service import LiveConfig
from plant_sim.naming import NAMESPACE_URI
from plant_sim.scenario import Scenario
from tests.live.helpers import Subscriber, async_wait_until, launch
from tests.servers.mosquitto import Mosquitto, free_port

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
PREFIX = "acme/plant1/bottling"


def test_a_drain_that_gives_up_exits_1_and_says_how_many_were_not_delivered() -> None:
    nobody = f"mqtt://127.0.0.1:{free_port()}"  # no broker: every message stays queued
    scenario = str(ROOT / "scenarios" / "bottling_line.yaml")
    args = [
        "--no-opcua",
        "--mqtt-url",
        nobody,
        "--until",
        "1h",
        "--speed",
        "1000000",
        "--mqtt-wait",
        "0.2",
    ]
    done = subprocess.run(
        [sys.executable, "-m", "twin", "sim", scenario, *args, "--mqtt-drain-timeout", "0.5"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=120,
    )
    assert done.returncode == 1, done.stderr[-2000:]
    assert "were not delivered" in done.stderr, done.stderr[-2000:]


async def _read(client: Client, name: str) -> object:
    idx = await client.get_namespace_index(NAMESPACE_URI)
    return await client.get_node(ua.NodeId(f"Simulator.{name}", idx)).read_value()


async def test_qos0_drops_are_logged_on_the_status_topic_and_on_opcua(
    bottling: Scenario,
    mosquitto_factory: Callable[..., Mosquitto],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, "plant_sim.live.mqtt_publisher")
    broker = mosquitto_factory()
    await asyncio.to_thread(broker.stop)  # away while the run starts: samples are dropped
    port = free_port()
    mqtt = MqttSettings(url=broker.url, qos_samples=0, connect_timeout_s=0.2, reconnect_max_s=1.0)
    endpoint = f"opc.tcp://127.0.0.1:{port}/twin/"
    config = LiveConfig(
        speed=20_000, seed=4, until_s=None, opcua=OpcUaSettings(endpoint=endpoint), mqtt=mqtt
    )
    task, runner = await launch(bottling, config)
    try:
        await async_wait_until(lambda: runner.model.now > 6.5 * 3600, 20, "samples")
        await asyncio.to_thread(broker.start)
        status = Subscriber(broker.port, [(f"{PREFIX}/_plant/status", 1)]).start()

        def dropped() -> int:
            bodies = [orjson.loads(m.payload) for m in status.snapshot()]
            online = [b for b in bodies if b["online"]]
            return int(online[-1]["dropped_qos0"]) if online else 0

        await async_wait_until(lambda: dropped() > 0, 20, "the online status with the drops")
        status.stop()
        assert "QoS 0 messages (samples, buffer levels) dropped" in caplog.text
        async with Client(endpoint) as client:

            async def on_opcua() -> int:
                value = await _read(client, "MqttDroppedQoS0")
                return int(value)  # type: ignore[call-overload]

            deadline = asyncio.get_running_loop().time() + 10
            while await on_opcua() < dropped():
                assert asyncio.get_running_loop().time() < deadline, "not on OPC UA"
                await asyncio.sleep(0.1)
    finally:
        runner.stop()
        await task


async def test_refused_commands_name_the_command_they_recognised(
    bottling: Scenario, mosquitto: Mosquitto
) -> None:
    sub = Subscriber(mosquitto.port, [(f"{PREFIX}/_plant/cmd/result", 1)]).start()
    mqtt = MqttSettings(url=mosquitto.url, client_id=f"sim-{free_port()}")
    config = LiveConfig(speed=1000, seed=4, until_s=None, opcua=None, mqtt=mqtt)
    task, runner = await launch(bottling, config)
    try:
        for body in (
            b'{"command":"inject_failure","station":"nope","duration_s":60,"id":"known"}',
            b'{"command":"set_speed","speed":-3,"id":"bad-speed"}',
            b'{"command":"fly","id":"unknown"}',
        ):
            sub.client.publish(f"{PREFIX}/_plant/cmd", body, 1)

        def results() -> dict[str, dict[str, object]]:
            docs = [orjson.loads(m.payload) for m in sub.snapshot()]
            return {str(d["id"]): d for d in docs}

        await async_wait_until(lambda: len(results()) == 3, 20, "three answers")
        res = results()
        assert all(r["ok"] is False for r in res.values())
        assert res["known"]["command"] == "inject_failure"
        assert res["bad-speed"]["command"] == "set_speed"
        assert res["unknown"]["command"] is None
    finally:
        runner.stop()
        await task
        sub.stop()


async def test_raising_the_speed_of_a_lagging_run_says_it_catches_up(
    bottling: Scenario, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "plant_sim.live.runner")
    endpoint = f"opc.tcp://127.0.0.1:{free_port()}/twin/"
    config = LiveConfig(
        speed=1e8, seed=4, until_s=None, opcua=OpcUaSettings(endpoint=endpoint), mqtt=None
    )
    task, runner = await launch(bottling, config)  # no model keeps up with 1e8: it lags
    try:
        await async_wait_until(lambda: runner.stats.lag_s > 3, 30, "a lag of 3 wall seconds")
        text = await runner.execute(SetSpeed(1.5e8))
        assert "behind the clock" in text and "catches them up" in text, text
        assert "behind the clock" in caplog.text
        async with Client(endpoint) as client:
            deadline = asyncio.get_running_loop().time() + 10
            while await _read(client, "Notice") != text:
                assert asyncio.get_running_loop().time() < deadline, "not on OPC UA"
                await asyncio.sleep(0.1)
    finally:
        runner.stop()
        await task
