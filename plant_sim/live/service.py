"""Put the live twin together: model + paced clock + OPC UA server + MQTT publisher."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass, field

from plant_sim.live.clock import PacedClock
from plant_sim.live.layout import PlantLayout
from plant_sim.live.mqtt_publisher import MqttPublisher, MqttSettings
from plant_sim.live.opcua_server import OpcUaSettings, TwinOpcUaServer
from plant_sim.live.runner import LiveRunner, LiveStats, RecordSink
from plant_sim.live.sparkplug_sink import SparkplugSettings, SparkplugSink
from plant_sim.records import Emit, Record
from plant_sim.scenario import Scenario
from plant_sim.simulation import Simulation

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class LiveConfig:
    """Everything ``twin sim`` sets; ``None`` switches a protocol off."""

    speed: float = 1.0
    seed: int | None = None
    run_id: str | None = None
    start_epoch_ms: int | None = None
    until_s: float | None = None
    opcua: OpcUaSettings | None = field(default_factory=OpcUaSettings)
    mqtt: MqttSettings | None = field(default_factory=MqttSettings)
    sparkplug: SparkplugSettings | None = None
    extra_sinks: list[RecordSink] = field(default_factory=list)


def make_model(scenario: Scenario, config: LiveConfig) -> Callable[[Emit], Simulation]:
    """Return the factory the runner calls with its record sink."""

    def make(emit: Emit) -> Simulation:
        return Simulation(
            scenario,
            emit,
            seed=config.seed,
            run_id=config.run_id,
            start_epoch_ms=config.start_epoch_ms,
        )

    return make


async def serve_live(
    scenario: Scenario,
    config: LiveConfig,
    on_ready: Callable[[LiveRunner], None] | None = None,
    *,
    handle_signals: bool = True,
    gate: asyncio.Event | None = None,
    linger: asyncio.Event | None = None,
) -> LiveStats:
    """Run the live plant until ``until_s`` or SIGINT/SIGTERM; return the runner's stats.

    ``on_ready(runner)`` is called once the servers are up; with ``gate`` the run starts only
    when it is set (tests subscribe in between); with ``linger`` the servers stay up after
    the run until it is set.
    """
    layout = PlantLayout.from_scenario(scenario)
    runner = LiveRunner(make_model(scenario, config), PacedClock(config.speed))
    model = runner.model
    mqtt: MqttPublisher | None = None
    spb: SparkplugSink | None = None
    server: TwinOpcUaServer | None = None
    async with contextlib.AsyncExitStack() as stack:
        if handle_signals:
            stack.callback(_remove_signals)  # the last to run: after the sinks have stopped
        if config.opcua is not None:
            server = TwinOpcUaServer(layout, config.opcua, runner)
            await server.start()
            stack.push_async_callback(server.stop)
            server.set_run(model.run_id, model.start_epoch_ms, scenario.name)
            runner.sinks.append(server)
        if config.mqtt is not None:
            mqtt = MqttPublisher(layout, config.mqtt, runner)
            mqtt.set_run(model.run_id, model.start_epoch_ms, scenario.name)
            await mqtt.start()
            stack.push_async_callback(mqtt.stop)
            runner.sinks.append(mqtt)
            if server is not None:
                server.mqtt_stats = mqtt.stats  # QoS 0 drops on OPC UA too
        if config.sparkplug is not None:
            spb = SparkplugSink(layout, config.sparkplug, runner)
            spb.set_run(model.start_epoch_ms)
            await spb.start()
            stack.push_async_callback(spb.stop)
            runner.sinks.append(spb)
        runner.sinks.extend(config.extra_sinks)
        if handle_signals:
            # handled until every sink has stopped (the exit stack runs this callback last):
            # a second signal cuts the MQTT drains short instead of killing the process
            _install_signals(runner)
        if on_ready is not None:
            on_ready(runner)
        if gate is not None:
            await gate.wait()
        logger.info(
            "live run %s: speed %g, %d stations", model.run_id, config.speed, len(layout.stations)
        )
        stats = await runner.run(config.until_s)
        if linger is not None:
            await linger.wait()
    # stopped by now: what their drains could not deliver is known
    stats.undelivered = (0 if mqtt is None else mqtt.stats.undelivered) + (
        0 if spb is None else spb.undelivered
    )
    stats.gave_up = any(sink.gave_up for sink in (mqtt, spb) if sink is not None)
    return stats


def _install_signals(runner: LiveRunner) -> None:
    """The first SIGINT/SIGTERM ends the run (the sinks then deliver what is queued); a
    second one makes every sink that waits for undelivered messages (``give_up()``: the MQTT
    publisher, the Sparkplug edge nodes) stop waiting; they count and report them."""
    loop = asyncio.get_running_loop()
    signals = 0

    def on_signal() -> None:
        nonlocal signals
        signals += 1
        if signals == 1:
            runner.stop()
            return
        waiting = [sink for sink in runner.sinks if callable(getattr(sink, "give_up", None))]
        if waiting:
            logger.warning("stop requested again: not waiting for undelivered MQTT messages")
        for sink in waiting:
            sink.give_up()  # type: ignore[attr-defined]

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, on_signal)


def _remove_signals() -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.remove_signal_handler(sig)


class MemorySink:
    """Keeps every record (tests, demos)."""

    def __init__(self) -> None:
        self.records: list[Record] = []

    async def publish(self, records: list[Record], first_n: int | None = None) -> None:
        """Append ``records``."""
        self.records.extend(records)

    async def set_clock(self, sim_time: float, speed: float, lag_s: float) -> None:
        """Ignore the clock."""
