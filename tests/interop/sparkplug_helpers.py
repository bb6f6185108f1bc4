"""Shared set-up of the Sparkplug tests: a capturing subscriber, a host application's sender,
the live twin's Sparkplug-only config (in process or as ``twin sim``), Tahu's decoder and a
condition wait for async tests."""

from __future__ import annotations

import asyncio
import base64
import json
import sys
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

import paho.mqtt.client as mqtt

from plant_sim.live.service import LiveConfig
from plant_sim.live.sparkplug import REBIRTH
from plant_sim.live.sparkplug_sink import SparkplugSettings
from tests.interop.conftest import run_node
from twin_io.sparkplug_payload import DataType, Payload, metric

GROUP = "acme_plant1_bottling"
EDGE_KINDS = ("NBIRTH", "DBIRTH", "NDATA", "DDATA", "DDEATH", "NDEATH")


class Capture:
    """A plain subscriber keeping every Sparkplug message in arrival order."""

    def __init__(self, port: int, topic: str = "spBv1.0/#") -> None:
        self.messages: list[tuple[str, bytes]] = []
        self.lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="host-capture")
        self.client.on_message = self._on_message
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *_a: subscribed.set()
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.client.subscribe(topic, qos=1)
        assert subscribed.wait(10)

    def _on_message(self, _c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.messages.append((msg.topic, msg.payload))

    def kinds(self, group: str | None = None) -> list[str]:
        """The message types in arrival order (of ``group`` only, if given)."""
        with self.lock:
            topics = [t.split("/") for t, _ in self.messages]
        return [
            "STATE" if t[1] == "STATE" else t[2] for t in topics if group is None or t[1] == group
        ]

    def stop(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


class Host:
    """The sending side of a host application: a client of its own that subscribes to
    nothing, so that its acknowledgements never wait behind the flood of data."""

    def __init__(self, port: int, client_id: str = "host-sender") -> None:
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    async def send(self, topic: str, body: bytes, retain: bool = False) -> None:
        info = self.client.publish(topic, body, qos=1, retain=retain)
        await asyncio.to_thread(info.wait_for_publish, 10)
        assert info.is_published(), topic

    async def command(
        self, kind: str, name: str, datatype: DataType, value: object, device: str = ""
    ) -> None:
        """An NCMD (or a DCMD of ``device``) writing one metric of line1."""
        cmd = Payload(timestamp=1)
        cmd.metrics.append(metric(0, datatype, value, 1, name))
        topic = f"spBv1.0/{GROUP}/{kind}/line1" + (f"/{device}" if device else "")
        await self.send(topic, cmd.SerializeToString())

    async def rebirth(self, group: str = GROUP, edge_node: str = "line1") -> None:
        """An NCMD ``Node Control/Rebirth`` true."""
        await self.send(f"spBv1.0/{group}/NCMD/{edge_node}", rebirth_request(1))

    async def state(self, online: bool, timestamp: int) -> None:
        """The primary host's STATE (retained, QoS 1, as Sparkplug 3.0 says)."""
        body = json.dumps({"online": online, "timestamp": timestamp}).encode()
        await self.send("spBv1.0/STATE/scada", body, retain=True)

    def stop(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def rebirth_request(timestamp: int) -> bytes:
    """An NCMD payload writing ``Node Control/Rebirth`` = true."""
    cmd = Payload(timestamp=timestamp)
    cmd.metrics.append(metric(0, DataType.BOOLEAN, True, timestamp, REBIRTH))
    return cmd.SerializeToString()


def twin_sim_argv(*args: str) -> list[str]:
    """``twin sim`` of the bottling line publishing Sparkplug only (run with cwd = the repo)."""
    argv = [sys.executable, "-m", "twin", "sim", "scenarios/bottling_line.yaml", "--no-opcua"]
    return [*argv, "--mqtt-format", "sparkplug", "--scenario-start", *args]


def tahu_decode(
    node_stack: Path, tmp_path: Path, messages: Iterable[tuple[str, bytes]]
) -> list[dict]:
    """The messages as Eclipse Tahu's JavaScript decoder reads them (``decode_sparkplug.js``)."""
    path = tmp_path / "messages.json"
    raw = [{"topic": t, "payload": base64.b64encode(p).decode()} for t, p in messages]
    path.write_text(json.dumps(raw))
    return run_node(node_stack / "decode_sparkplug.js", str(path))


def live_config(
    url: str, speed: float = 20_000, until_s: float | None = None, **sparkplug: object
) -> LiveConfig:
    """A live twin publishing Sparkplug only (no OPC UA, no UNS JSON), seed 4."""
    return LiveConfig(
        speed=speed,
        seed=4,
        until_s=until_s,
        opcua=None,
        mqtt=None,
        sparkplug=SparkplugSettings(url=url, **sparkplug),  # type: ignore[arg-type]
    )


async def async_wait(check: Callable[[], bool], what: str, timeout_s: float = 30) -> None:
    """Wait (without blocking the event loop) until ``check()`` holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not check():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)
