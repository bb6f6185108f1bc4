"""The real live plant (plant_sim.live) in a background thread, started in two steps.

``LivePlant.serve()`` starts the OPC UA server and the MQTT publisher and waits, so that the
gateways can connect and subscribe; ``run()`` then lets the paced model emit its records.
It composes the same parts as ``plant_sim.live.service.serve_live`` (which starts emitting at
once and so cannot wait for an OPC UA subscriber); ``truth`` is every record the plant emitted.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from plant_sim.live.clock import PacedClock
from plant_sim.live.layout import PlantLayout
from plant_sim.live.mqtt_publisher import MqttPublisher, MqttSettings
from plant_sim.live.opcua_server import OpcUaSettings, TwinOpcUaServer
from plant_sim.live.runner import LiveRunner
from plant_sim.live.service import LiveConfig, MemorySink, make_model
from plant_sim.records import Record
from plant_sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[2]
SHIFT_START_MS = 1_767_592_800_000
"""Monday 2026-01-05 06:00 UTC: the bottling line's first shift starts (a fixed, busy start)."""


class LivePlant:
    """A live twin serving OPC UA and MQTT at ``speed``, for ``until_s`` simulated seconds."""

    def __init__(
        self,
        opcua_port: int | None,
        mqtt_url: str | None,
        until_s: float,
        speed: float,
        seed: int = 5,
        scenario: str = "bottling_line",
        qos_samples: int = 0,
        start_epoch_ms: int = SHIFT_START_MS - 600_000,
        linger_s: float = 2.0,
    ) -> None:
        self.scenario = load_scenario(ROOT / "scenarios" / f"{scenario}.yaml")
        self.opcua_endpoint = f"opc.tcp://127.0.0.1:{opcua_port}/twin/" if opcua_port else None
        self.mqtt_url = mqtt_url
        self.until_s = until_s
        self.config = LiveConfig(
            speed=speed, seed=seed, until_s=until_s, start_epoch_ms=start_epoch_ms
        )
        self.qos_samples = qos_samples
        self.linger_s = linger_s
        self.memory = MemorySink()
        self.ready = threading.Event()
        self.done = threading.Event()
        self.error: BaseException | None = None
        self._go: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._main, name="live-plant", daemon=True)

    @property
    def truth(self) -> list[Record]:
        """Every record the plant emitted, in order."""
        return list(self.memory.records)

    def serve(self, timeout_s: float = 30.0) -> None:
        """Start the servers; return when they accept clients."""
        self._thread.start()
        if not self.ready.wait(timeout_s):
            raise RuntimeError(f"live plant did not start: {self.error!r}")
        if self.error is not None:
            raise RuntimeError("live plant failed") from self.error

    def run(self) -> None:
        """Let the model run (records start to flow)."""
        assert self._loop is not None and self._go is not None
        self._loop.call_soon_threadsafe(self._go.set)

    def wait(self, timeout_s: float) -> None:
        """Wait until the run ended and the servers stopped."""
        if not self.done.wait(timeout_s):
            raise RuntimeError("live plant did not finish in time")
        if self.error is not None:
            raise RuntimeError("live plant failed") from self.error

    def _main(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported to the test thread
            self.error = exc
            self.ready.set()
        finally:
            self.done.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._go = asyncio.Event()
        layout = PlantLayout.from_scenario(self.scenario)
        runner = LiveRunner(make_model(self.scenario, self.config), PacedClock(self.config.speed))
        model = runner.model
        stops = []
        if self.opcua_endpoint:
            server = TwinOpcUaServer(layout, OpcUaSettings(endpoint=self.opcua_endpoint), runner)
            await server.start()
            stops.append(server.stop)
            server.set_run(model.run_id, model.start_epoch_ms, self.scenario.name)
            runner.sinks.append(server)
        if self.mqtt_url:
            mqtt = MqttPublisher(
                layout,
                MqttSettings(
                    url=self.mqtt_url,
                    qos_samples=self.qos_samples,
                    max_inflight=1000,
                    require_broker=True,
                ),
                runner,
            )
            mqtt.set_run(model.run_id, model.start_epoch_ms, self.scenario.name)
            await mqtt.start()
            stops.append(mqtt.stop)
            runner.sinks.append(mqtt)
        runner.sinks.append(self.memory)
        self.ready.set()
        try:
            await self._go.wait()
            await runner.run(self.until_s)
            await asyncio.sleep(self.linger_s)  # let subscribers fetch the last events
        finally:
            for stop in reversed(stops):
                await stop()
