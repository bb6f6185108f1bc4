"""Test helpers: a collecting MQTT subscriber, deadlines, launching the live twin in-process."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import paho.mqtt.client as mqtt

from plant_sim.live.runner import LiveRunner
from plant_sim.live.service import LiveConfig, serve_live
from plant_sim.scenario import Scenario


@dataclass
class Received:
    topic: str
    payload: bytes
    retain: bool
    qos: int


@dataclass
class Subscriber:
    """A paho subscriber that collects messages (optionally a persistent session)."""

    port: int
    topics: list[tuple[str, int]]
    client_id: str = ""
    persistent: bool = False
    messages: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self.subscribed = threading.Event()
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            clean_session=not self.persistent,
        )
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *a: self.subscribed.set()
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(1, 1)

    def start(self) -> Subscriber:
        self.client.connect("127.0.0.1", self.port, 30)
        self.client.loop_start()
        assert self.subscribed.wait(5), "subscriber did not subscribe"
        return self

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def snapshot(self) -> list[Received]:
        with self._lock:
            return list(self.messages)

    def _on_connect(self, client: mqtt.Client, *args: object) -> None:
        client.subscribe(self.topics)

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append(Received(msg.topic, msg.payload, msg.retain, msg.qos))


def wait_until(cond: Callable[[], bool], timeout_s: float = 10.0, what: str = "condition") -> None:
    """Poll ``cond`` until true; fail with ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.02)


async def async_wait_until(
    cond: Callable[[], bool], timeout_s: float = 10.0, what: str = "condition"
) -> None:
    """Like ``wait_until`` but lets the event loop run."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not cond():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        await asyncio.sleep(0.02)


async def launch(
    scenario: Scenario,
    config: LiveConfig,
    gate: asyncio.Event | None = None,
    linger: asyncio.Event | None = None,
) -> tuple[asyncio.Task[object], LiveRunner]:
    """Start ``serve_live`` as a task; return it and the runner once servers are up."""
    ready: asyncio.Future[LiveRunner] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(
        serve_live(
            scenario, config, ready.set_result, handle_signals=False, gate=gate, linger=linger
        )
    )
    done, _ = await asyncio.wait({task, ready}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        task.result()  # raises the start-up error
    return task, await ready
