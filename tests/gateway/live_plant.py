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
from plant_sim.live.sparkplug_sink import SparkplugSettings, SparkplugSink
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
        qos_samples: int | None = 0,
        start_epoch_ms: int = SHIFT_START_MS - 600_000,
        linger_s: float = 2.0,
        mqtt_format: str = "uns",
        sparkplug_primary_host: str | None = None,
    ) -> None:
        self.mqtt_format = mqtt_format
        self.sparkplug_primary_host = sparkplug_primary_host
        self.sparkplug: SparkplugSink | None = None
        """The Sparkplug edge nodes (``mqtt_format`` sparkplug or both), once serving."""
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

    def mqtt_settings(self) -> MqttSettings:
        """The publisher's settings: ``twin sim``'s defaults when ``qos_samples`` is None."""
        assert self.mqtt_url is not None
        if self.qos_samples is None:
            return MqttSettings(url=self.mqtt_url, require_broker=True)
        return MqttSettings(
            url=self.mqtt_url, qos_samples=self.qos_samples, max_inflight=1000, require_broker=True
        )

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
        if self.mqtt_url and self.mqtt_format != "uns":
            spb = SparkplugSink(
                layout,
                SparkplugSettings(url=self.mqtt_url, primary_host=self.sparkplug_primary_host),
                runner,
            )
            spb.set_run(model.start_epoch_ms)
            await spb.start()
            stops.append(spb.stop)
            runner.sinks.append(spb)
            self.sparkplug = spb
        if self.mqtt_url and self.mqtt_format != "sparkplug":
            mqtt = MqttPublisher(
                layout,
                self.mqtt_settings(),
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


class RestartableOpcUaPlant:
    """The twin's real OPC UA server (``TwinOpcUaServer``) for a plant, stopped and restarted.

    Runs in its own thread and event loop. ``start()`` builds a new server on the same endpoint
    (a fresh address space, as after a restart of the twin's process); ``publish(records)``
    applies the records and emits their events through the server's own ``publish``; ``stop()``
    closes it (clients see the connection drop).
    """

    def __init__(
        self, port: int, run_id: str, start_epoch_ms: int, scenario: str = "bottling_line"
    ):
        self.scenario = load_scenario(ROOT / "scenarios" / f"{scenario}.yaml")
        self.layout = PlantLayout.from_scenario(self.scenario)
        self.endpoint = f"opc.tcp://127.0.0.1:{port}/twin/"
        self.run_id = run_id
        self.start_epoch_ms = start_epoch_ms
        self.starts = 0
        self.server: TwinOpcUaServer | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="opcua-plant", daemon=True
        )
        self._thread.start()

    def _call(self, coro: object, timeout_s: float = 60.0) -> object:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout_s)  # type: ignore[arg-type]

    def start(self) -> None:
        """Start a new server on the endpoint; return when it listens."""
        self._call(self._start())

    def stop(self) -> None:
        """Stop the server (idempotent)."""
        self._call(self._stop())

    def publish(self, records: list[Record], chunk: int = 50) -> None:
        """Publish ``records`` in order, a chunk at a time (the live runner's pace, unpaced)."""
        self._call(self._publish(records, chunk), timeout_s=300)

    def close(self) -> None:
        """Stop the server and the loop."""
        self.stop()
        self._call(self._cancel_leftovers())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    async def _start(self) -> None:
        server = TwinOpcUaServer(self.layout, OpcUaSettings(endpoint=self.endpoint))
        await server.start()
        server.set_run(self.run_id, self.start_epoch_ms, self.scenario.name)
        self.server = server
        self.starts += 1

    async def _stop(self) -> None:
        if self.server is not None:
            server, self.server = self.server, None
            await server.stop()

    async def _cancel_leftovers(self) -> None:
        """Cancel what asyncua leaves behind after stop (session timeout loops and the like)."""
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _publish(self, records: list[Record], chunk: int) -> None:
        assert self.server is not None, "the OPC UA server is not started"
        for i in range(0, len(records), chunk):
            await self.server.publish(records[i : i + chunk])
            await asyncio.sleep(0)  # let the subscriptions' publish loop run
