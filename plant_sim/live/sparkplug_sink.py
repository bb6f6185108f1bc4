"""The live twin over Sparkplug B: one edge node (one paho client and MQTT session) per line.

A record sink of the live runner (``publish(records)``, ``set_clock``). Each line's edge node
connects with its NDEATH will, publishes its births on every (re)connect and then DDATA/NDATA by
exception (``plant_sim.live.sparkplug``). Before each reconnect the will is set again with the
next ``bdSeq``. Data are QoS 0 and not queued while disconnected: a rebirth after the reconnect
gives every current value.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from plant_sim import payloads
from plant_sim.live import commands as cmds
from plant_sim.live.layout import PlantLayout
from plant_sim.live.sparkplug_records import RecordChannel
from plant_sim.records import Record, ScenarioEvent
from twin_io.mqtt import MqttOptions, make_client

if TYPE_CHECKING:
    from plant_sim.live.sparkplug import SparkplugEdgeNode

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SparkplugSettings:
    """Broker and naming of the Sparkplug edge nodes."""

    url: str = "mqtt://127.0.0.1:1883"
    client_id_prefix: str = "smart-factory-twin-spb"
    group: str | None = None  # default: {enterprise}_{site}_{area}
    primary_host: str | None = None  # births wait for spBv1.0/STATE/<id> online
    connect_timeout_s: float = 10.0


class SparkplugSink:
    """Publishes the live plant as Sparkplug B edge nodes (see the module docstring)."""

    def __init__(
        self,
        layout: PlantLayout,
        settings: SparkplugSettings,
        commands: cmds.CommandHandler | None = None,
    ) -> None:
        self.layout = layout
        self.settings = settings
        self.commands = commands
        self._loop: asyncio.AbstractEventLoop | None = None
        self.group = settings.group or "_".join((layout.enterprise, layout.site, layout.area))
        self.start_epoch_ms = 0
        self.nodes: dict[str, SparkplugEdgeNode] = {}
        self._line_of = {s.id: line.id for line in layout.lines for s in line.stations}
        self._connected: dict[str, threading.Event] = {}
        self.records = RecordChannel(layout)  # the records themselves, as Twin/Record

    def set_run(self, start_epoch_ms: int) -> None:
        """The run's clock origin (record times become epoch milliseconds)."""
        self.start_epoch_ms = start_epoch_ms

    async def start(self) -> None:
        """Connect every edge node and wait for its first births."""
        from plant_sim.live.sparkplug import SparkplugEdgeNode  # protobuf only when used

        self._loop = asyncio.get_running_loop()
        options = MqttOptions(url=self.settings.url)  # credentials and TLS as every client
        for line in self.layout.lines:
            client = make_client(
                options, f"{self.settings.client_id_prefix}-{line.id}", clean_session=True
            )
            node = SparkplugEdgeNode(client, self.group, line, lambda: self.start_epoch_ms)
            node.on_command = self._on_command
            node.primary_host = self.settings.primary_host
            self.records.attach(line.id, node)
            connected = threading.Event()
            client.on_connect = self._on_connect(node, connected)
            client.on_disconnect = self._on_disconnect(node)
            node.prepare()
            client.connect_async(options.host, options.port)
            client.loop_start()
            self.nodes[line.id] = node
            self._connected[line.id] = connected
        for line_id, connected in self._connected.items():
            if not connected.wait(self.settings.connect_timeout_s):
                logger.warning("Sparkplug edge node %s: not connected yet; retrying", line_id)

    async def stop(self) -> None:
        """Disconnect cleanly (the broker then drops the wills: no NDEATH is published)."""
        for node in self.nodes.values():
            node.client.disconnect()
            node.client.loop_stop()

    async def publish(self, records: list[Record], first_n: int | None = None) -> None:
        """Publish what ``records`` change, in order (Sparkplug numbers its own messages)."""
        for rec in records:
            line = getattr(rec, "line", None)
            if line is None and isinstance(rec, ScenarioEvent) and rec.target:
                line = self._line_of.get(rec.target)  # station maintenance: its line's node
            node = self.nodes.get(line) if line is not None else None
            if node is not None:
                node.apply(rec, payloads.epoch_ms(self.start_epoch_ms, rec.t))
        self.records.send(records, first_n, self.start_epoch_ms)

    async def set_clock(self, sim_time: float, speed: float, lag_s: float) -> None:
        """Sparkplug carries no clock."""

    def _on_command(self, device: str | None, name: str, value: object) -> None:
        """A DCMD/NCMD metric (paho's thread): validated as every command path, then run."""
        stations = self.layout.stations
        try:
            if name == "Command/InjectFailure":
                command: cmds.Command = cmds.inject_failure(device, value, "sparkplug", stations)
            elif name == "Command/ClearFailure":
                if value is not True:
                    return
                command = cmds.clear_failure(device, stations)
            else:
                command = cmds.set_speed(value)
        except cmds.CommandError as exc:
            logger.warning("Sparkplug command %s of %s rejected: %s", name, device, exc)
            return
        if self.commands is None or self._loop is None:
            logger.warning("Sparkplug command %s: no command handler", name)
            return
        future = asyncio.run_coroutine_threadsafe(self.commands.execute(command), self._loop)
        future.add_done_callback(lambda f: _log_result(name, f))

    @staticmethod
    def _on_connect(node: SparkplugEdgeNode, connected: threading.Event):  # type: ignore[no-untyped-def]
        def on_connect(client, _userdata, _flags, reason, _props):  # type: ignore[no-untyped-def]
            if reason.is_failure:
                logger.warning(
                    "Sparkplug edge node %s: connect refused (%s)", node.edge_node, reason
                )
                return
            node.connected()
            connected.set()
            logger.info("Sparkplug edge node %s: born (bdSeq %d)", node.edge_node, node.bd_seq)

        return on_connect

    @staticmethod
    def _on_disconnect(node: SparkplugEdgeNode):  # type: ignore[no-untyped-def]
        def on_disconnect(client, _userdata, _flags, reason, _props):  # type: ignore[no-untyped-def]
            node.prepare()  # the next connect carries the next bdSeq in its will
            logger.info("Sparkplug edge node %s: disconnected (%s)", node.edge_node, reason)

        return on_disconnect


def _log_result(name: str, future: concurrent.futures.Future[str]) -> None:
    try:
        logger.info("Sparkplug command %s: %s", name, future.result())
    except cmds.CommandError as exc:
        logger.warning("Sparkplug command %s rejected: %s", name, exc)
