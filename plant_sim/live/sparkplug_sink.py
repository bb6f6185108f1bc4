"""The live twin over Sparkplug B: one edge node (one MQTT session) per line.

A record sink of the live runner (``publish(records)``, ``set_clock``). Each line has a
``SparkplugEdgeNode`` (the session, on the event loop), a paho client driven by its own
``twin_io.mqtt.NetworkLoop`` thread (credentials and TLS from ``MqttOptions``, as every MQTT
client of the project) and a bounded queue between them:

- The node encodes on the event loop and appends to the queue; ``publish`` waits while the
  queue holds ``max_queued`` messages (the run falls behind the clock, nothing is dropped), so
  a flood of DDATA never outruns the network thread.
- The network thread hands at most ``TURN_BATCH`` queued messages to paho per turn and reads
  what arrived every turn, so an incoming STATE, NCMD or DCMD is read within one short turn,
  however many DDATA are waiting. It only forwards what it reads to the event loop, where the
  node acts on it between two simulation slices (births, commands through the command handler).
- Messages queued for an earlier connection are not sent after a reconnect (their ``seq`` would
  break the new session's order); the births after the reconnect carry every current value.
  Data are QoS 0: while disconnected they are dropped.

Before each connect the will is set to the NDEATH with the next ``bdSeq``. ``stop()`` sends
what is queued, then the NDEATH and the MQTT DISCONNECT (an intentional end of the session).
When the primary host's STATE goes offline, the node does the same and connects again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import paho.mqtt.client as mqtt

from plant_sim import payloads
from plant_sim.live import commands as cmds
from plant_sim.live.layout import LineInfo, PlantLayout
from plant_sim.live.sparkplug_records import RecordChannel
from plant_sim.records import Record, ScenarioEvent
from twin_io.mqtt import (
    BrokerAccess,
    MqttConfigError,
    MqttOptions,
    NetworkLoop,
    make_client,
    wait_drained,
)
from twin_io.retry import Backoff

if TYPE_CHECKING:
    from plant_sim.live.sparkplug import SparkplugEdgeNode

logger = logging.getLogger(__name__)
TURN_BATCH = 200  # messages handed to paho per network turn (a turn also reads)
DISCONNECT = "<disconnect>"  # a queue entry: end the session here (after the NDEATH)


class SparkplugError(RuntimeError):
    """The Sparkplug side cannot work as asked; the message names the option."""


@dataclass(frozen=True, slots=True, repr=False)  # BrokerAccess's repr: no secret
class SparkplugSettings(BrokerAccess):
    """Broker (URL, credentials, TLS files as ``twin_io.mqtt.MqttOptions``) and naming of the
    Sparkplug edge nodes. ``client_id`` is the twin's MQTT client id (``--mqtt-client-id``, as
    the UNS publisher's); the edge node of a line connects as ``{client_id}-spb-{line}``, so two
    twins with different client ids keep their sessions on one broker."""

    client_id: str = "smart-factory-twin-sim"
    group: str | None = None  # --sparkplug-group; default: {enterprise}_{site}_{area}
    primary_host: str | None = None  # births wait for spBv1.0/STATE/<id> online
    connect_timeout_s: float = 10.0
    keepalive_s: int = 30
    reconnect_max_s: float = 10.0
    max_queued: int = 200  # messages per edge node waiting for the network thread
    drain_timeout_s: float = 10.0  # stop() waits this long for queued messages


def edge_client_id(settings: SparkplugSettings, line: str) -> str:
    """The MQTT client id of ``line``'s edge node: unique per twin (client id) and line."""
    return f"{settings.client_id}-spb-{line}"


class _EdgeLink:
    """One line: its edge node, paho client, network thread and outgoing queue."""

    def __init__(
        self,
        sink: SparkplugSink,
        line: LineInfo,
        options: MqttOptions,
        settings: SparkplugSettings,
    ) -> None:
        from plant_sim.live.sparkplug import SparkplugEdgeNode  # protobuf only when used

        self.sink = sink
        self.line = line.id
        self.settings = settings
        self.node: SparkplugEdgeNode = SparkplugEdgeNode(
            sink.group, line, sink.clock_ms, self._send, settings.primary_host
        )
        self.node.on_command = sink.on_command
        # (connection number, topic, payload, qos); only the network thread pops
        self.queue: deque[tuple[int, str, bytes, int]] = deque()
        self.connection = 0  # connects so far (network thread); the queue's entries carry one
        self._born_on = 0  # the connection the node's current session belongs to (event loop)
        self.stale = 0  # queued messages of an earlier connection, not sent
        self.unwritten = 0  # handed to paho, not yet written (network thread)
        self.client = make_client(options, edge_client_id(settings, line.id), clean_session=True)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_publish = self._on_publish
        self._set_will()
        self.net = NetworkLoop(
            self.client,
            options,
            keepalive_s=settings.keepalive_s,
            backoff=Backoff(0.5, max(0.5, settings.reconnect_max_s)),
            on_turn=self._hand_over,
            name=f"spb-{line.id}",
        )

    # event loop side
    def _send(self, topic: str, payload: bytes, qos: int) -> None:
        self.queue.append((self._born_on, topic, payload, qos))

    def connected(self, connection: int) -> None:
        """The network thread connected (number ``connection``): start the session."""
        if connection != self.connection:
            return  # an older connection's news
        self._born_on = connection
        self.node.connected()

    def received(self, connection: int, topic: str, payload: bytes) -> None:
        """A message the network thread read: STATE, NCMD or DCMD."""
        if connection != self._born_on:
            return  # of an earlier connection
        node = self.node
        if topic == node.state_topic:
            if node.on_state(payload):  # the primary host went offline: leave and come back
                node.death()
                self.queue.append((connection, DISCONNECT, b"", 0))
        elif topic == node.topic("NCMD"):
            node.on_ncmd(payload)
        elif topic.startswith(node.topic("DCMD") + "/"):
            node.on_dcmd(topic.rsplit("/", 1)[-1], payload)

    async def room(self) -> None:
        """Wait until the queue is half empty (the network thread empties it, connected or
        not); meanwhile the event loop sleeps and the network thread has the interpreter."""
        low = self.settings.max_queued // 2
        while len(self.queue) > low:
            if not self.net.alive:
                raise SparkplugError(f"Sparkplug edge node {self.line}: network thread stopped")
            await asyncio.sleep(0.002)

    def pending(self) -> int:
        """Messages not sent yet: queued, or handed to paho and not written (connected)."""
        return len(self.queue) + (self.unwritten if self.net.connected.is_set() else 0)

    def _busy(self) -> bool:
        return self.net.alive and bool(self.pending())

    def drain(self, deadline: float, give_up: threading.Event) -> bool:
        """Wait until the queue is empty and paho has written it (connected); False when
        ``deadline`` (``time.monotonic()``) passed or ``give_up`` was set first."""
        wait_drained(self._busy, deadline, give_up)
        return not self.pending()

    # network thread side
    def _hand_over(self, client: mqtt.Client) -> bool:
        """Hand up to ``TURN_BATCH`` queued messages to paho (it writes them this turn)."""
        queue = self.queue
        n = 0
        while queue and n < TURN_BATCH:
            connection, topic, payload, qos = queue.popleft()
            n += 1
            if connection != self.connection:
                self.stale += 1
            elif topic == DISCONNECT:
                client.disconnect()  # after the NDEATH, in order; the loop then reconnects
                return True
            elif client.publish(topic, payload, qos, False).rc == mqtt.MQTT_ERR_SUCCESS:
                self.unwritten += 1
        return n > 0

    def _on_publish(self, _c: mqtt.Client, _u: Any, _mid: int, _rc: Any, _p: Any) -> None:
        """paho wrote a QoS 0 message (or the broker acknowledged a QoS 1 one)."""
        self.unwritten = max(0, self.unwritten - 1)

    def _set_will(self) -> None:
        topic, payload = self.node.will()
        self.client.will_set(topic, payload, qos=1, retain=False)

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            logger.warning("Sparkplug edge node %s: connect refused (%s)", self.line, reason)
            return
        self.connection += 1
        client.subscribe(self.node.subscriptions())  # before the births (same connection)
        self.sink.call_soon(self.connected, self.connection)
        logger.info("Sparkplug edge node %s: connected (bdSeq %d)", self.line, self.node.bd_seq)

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        self.unwritten = 0  # paho drops what it did not write (QoS 0): not ours to wait for
        self._set_will()  # the next connect carries the next bdSeq in its will
        self.sink.call_soon(self.node.lost)
        logger.info("Sparkplug edge node %s: disconnected (%s)", self.line, reason)

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        self.sink.call_soon(self.received, self.connection, msg.topic, bytes(msg.payload))


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
        try:
            self.options = settings.options()
        except MqttConfigError as exc:
            raise SparkplugError(str(exc)) from None
        if settings.max_queued < 1:
            raise SparkplugError(f"Sparkplug max_queued: must be >= 1, got {settings.max_queued}")
        self.commands = commands
        self._loop: asyncio.AbstractEventLoop | None = None
        self.group = settings.group or "_".join((layout.enterprise, layout.site, layout.area))
        self.start_epoch_ms = 0
        self._now_ms = 0
        self.links: dict[str, _EdgeLink] = {}
        self._line_of = {s.id: line.id for line in layout.lines for s in line.stations}
        self._tasks: set[asyncio.Future[str]] = set()
        self.records = RecordChannel(layout)  # the records themselves, as Twin/Record
        self.undelivered = 0  # messages not sent when stop() stopped waiting
        self._give_up = threading.Event()  # a second stop signal: wait for nothing more

    @property
    def nodes(self) -> dict[str, SparkplugEdgeNode]:
        """The edge node of each line."""
        return {line: link.node for line, link in self.links.items()}

    def set_run(self, start_epoch_ms: int) -> None:
        """The run's clock origin (record times become epoch milliseconds)."""
        self.start_epoch_ms = self._now_ms = start_epoch_ms

    def clock_ms(self) -> int:
        """The timestamp of births and deaths: the (simulated) time of the latest record."""
        return self._now_ms

    def call_soon(self, callback: Any, *args: Any) -> None:
        """Run ``callback(*args)`` on the event loop (from the network threads)."""
        loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nothing to do
                loop.call_soon_threadsafe(callback, *args)

    async def start(self) -> None:
        """Start every edge node's network thread; wait up to ``connect_timeout_s`` for them."""
        self._loop = asyncio.get_running_loop()
        for line in self.layout.lines:
            link = _EdgeLink(self, line, self.options, self.settings)
            self.links[line.id] = link
            self.records.attach(line.id, link.node)
            link.net.start()
        for line_id, link in self.links.items():
            timeout = self.settings.connect_timeout_s
            if not await link.net.first_attempt(timeout):
                logger.warning(
                    "Sparkplug edge node %s: %s not connected yet (%s); retrying",
                    line_id,
                    self.options.endpoint,
                    link.net.last_error or "no answer",
                )

    @property
    def gave_up(self) -> bool:
        """Whether ``give_up`` was called (the report then says so, not a timeout)."""
        return self._give_up.is_set()

    def give_up(self) -> None:
        """Stop waiting for messages not sent yet (a second SIGINT/SIGTERM while stopping);
        ``stop`` then counts and reports them at once (as ``MqttPublisher.give_up``)."""
        self._give_up.set()

    async def stop(self) -> None:
        """Send what is queued (up to ``drain_timeout_s`` in all), then each node's NDEATH and
        the MQTT DISCONNECT. Messages not sent then are logged and counted in ``undelivered``."""
        timeout = self.settings.drain_timeout_s
        pending = {link.line: n for link in self.links.values() if (n := link.pending())}
        if pending:
            logger.info(
                "stopping: waiting up to %g s for %d Sparkplug messages (%s) to reach %s "
                "(stop again: do not wait)",
                timeout,
                sum(pending.values()),
                ", ".join(f"{line}: {n}" for line, n in pending.items()),
                self.options.endpoint,
            )
        deadline = time.monotonic() + timeout
        for link in self.links.values():
            if not await asyncio.to_thread(link.drain, deadline, self._give_up):
                left = link.pending()
                self.undelivered += left
                logger.error(
                    "Sparkplug edge node %s: %d messages were not delivered to %s %s",
                    link.line,
                    left,
                    self.options.endpoint,
                    "(the stop was requested again)"
                    if self._give_up.is_set()
                    else f"within {timeout:g} s of the shutdown",
                )
            if link.net.connected.is_set():
                link.node.death()  # NDEATH, then the loop's DISCONNECT (no will)
        for link in self.links.values():
            await asyncio.to_thread(link.net.stop, 10.0)

    async def publish(self, records: list[Record], first_n: int | None = None) -> None:
        """Publish what ``records`` change, in order (Sparkplug numbers its own messages);
        wait while an edge node's queue is full."""
        links = self.links
        start = self.start_epoch_ms
        for rec in records:
            line = getattr(rec, "line", None)
            if line is None and isinstance(rec, ScenarioEvent) and rec.target:
                line = self._line_of.get(rec.target)  # station maintenance: its line's node
            link = links.get(line) if line is not None else None
            self._now_ms = ts_ms = payloads.epoch_ms(start, rec.t)
            if link is not None:
                link.node.apply(rec, ts_ms)
                if len(link.queue) >= link.settings.max_queued:
                    await link.room()
        self.records.send(records, first_n, start)
        for link in links.values():
            if len(link.queue) >= link.settings.max_queued:
                await link.room()

    async def set_clock(self, sim_time: float, speed: float, lag_s: float) -> None:
        """Sparkplug carries no clock."""

    def on_command(self, device: str | None, name: str, value: object) -> None:
        """A DCMD/NCMD metric (event loop): validated as every command path, then run."""
        stations = self.layout.stations
        try:
            if name == "Command/InjectFailure":
                command: cmds.Command = cmds.inject_failure(device, value, "sparkplug", stations)
            elif name == "Command/ClearFailure":
                if value is not True:
                    raise cmds.CommandError(f"{name}: expected Boolean true, got {value!r}")
                command = cmds.clear_failure(device, stations)
            else:
                command = cmds.set_speed(value)
        except cmds.CommandError as exc:
            logger.warning("Sparkplug command %s of %s rejected: %s", name, device, exc)
            return
        if self.commands is None:
            logger.warning("Sparkplug command %s: commands are not enabled", name)
            return
        task = asyncio.ensure_future(self.commands.execute(command))
        self._tasks.add(task)
        task.add_done_callback(lambda t: _log_result(name, t, self._tasks))


def _log_result(name: str, task: asyncio.Future[str], tasks: set[asyncio.Future[str]]) -> None:
    tasks.discard(task)
    try:
        logger.info("Sparkplug command %s: %s", name, task.result())
    except cmds.CommandError as exc:
        logger.warning("Sparkplug command %s rejected: %s", name, exc)
    except Exception:  # a bug must not go unseen
        logger.exception("Sparkplug command %s failed", name)
