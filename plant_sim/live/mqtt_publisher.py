"""Publish every record to the MQTT Unified Namespace (paho-mqtt 2.x, its network thread).

Each record goes to ``payloads.route(...)`` as ``payloads.encode(...)``: state (retained) and
events at ``qos_events`` (1), samples and buffer levels at ``qos_samples`` (0). A retained
``{prefix}/_plant/status`` says ``{"online": true}``; the last will sets it to false. Commands
arrive on ``{prefix}/_plant/cmd`` and are answered on ``{prefix}/_plant/cmd/result``.
While the broker is away, QoS 1 messages wait in paho's bounded queue and go out after the
reconnect; QoS 0 messages are dropped and counted.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlparse

import orjson
import paho.mqtt.client as mqtt

from plant_sim import naming, payloads
from plant_sim.live import commands as cmds
from plant_sim.live.layout import PlantLayout
from plant_sim.live.uns import uns_fields
from plant_sim.records import Record

logger = logging.getLogger(__name__)


class MqttError(RuntimeError):
    """The MQTT side cannot work as asked; the message names the broker and what to do."""


@dataclass(frozen=True, slots=True)
class MqttSettings:
    """Broker URL (``mqtt://[user:pass@]host[:port]``, ``mqtts://`` for TLS) and delivery."""

    url: str = "mqtt://127.0.0.1:1883"
    client_id: str = "smart-factory-twin-sim"
    qos_events: int = 1
    qos_samples: int = 0
    keepalive_s: int = 30
    max_queued: int = 50_000  # QoS>0 messages paho may hold (in flight + waiting)
    max_inflight: int = 20
    connect_timeout_s: float = 10.0  # how long start() waits for the first connection
    require_broker: bool = False  # True: start() fails if not connected by then
    reconnect_max_s: float = 10.0
    drain_timeout_s: float = 30.0  # stop() waits this long for queued messages
    uns_extras: bool = True  # add the readable "uns" object (units, state numbers)


@dataclass(slots=True)
class MqttStats:
    """Counters of the publisher (updated from two threads; read them as a snapshot)."""

    published: int = 0
    acked: int = 0
    dropped_qos0: int = 0
    dropped_queue_full: int = 0
    connects: int = 0
    commands: int = 0
    rejected_commands: int = 0
    errors: dict[str, int] = field(default_factory=dict)


class MqttPublisher:
    """UNS publisher for one plant; an async context manager."""

    def __init__(
        self,
        layout: PlantLayout,
        settings: MqttSettings | None = None,
        commands: cmds.CommandHandler | None = None,
    ) -> None:
        self.layout = layout
        self.settings = s = settings or MqttSettings()
        for name in ("qos_events", "qos_samples"):
            if getattr(s, name) not in (0, 1, 2):
                raise MqttError(f"MQTT {name}: must be 0, 1 or 2, got {getattr(s, name)!r}")
        self._commands = commands
        self._url = urlparse(s.url)
        if self._url.scheme not in ("mqtt", "mqtts", "tcp") or not self._url.hostname:
            raise MqttError(f"MQTT url {s.url!r}: use mqtt://[user:pass@]host[:port]")
        prefix = "/".join(
            naming.topic_segment(p) for p in (layout.enterprise, layout.site, layout.area)
        )
        self.status_topic = f"{prefix}/_plant/status"
        self.command_topic = f"{prefix}/_plant/cmd"
        self.result_topic = f"{prefix}/_plant/cmd/result"
        self.stats = MqttStats()
        self._extras = s.uns_extras
        self._topics: dict[tuple[str, str | None, str | None], tuple[str, bool, int]] = {}
        self._connected = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: mqtt.Client | None = None
        self._run_id = ""
        self._start_epoch_ms = 0
        self._last_error = ""

    @property
    def host_port(self) -> str:
        """``host:port`` of the broker, for messages."""
        return f"{self._url.hostname}:{self._port}"

    @property
    def _port(self) -> int:
        return self._url.port or (8883 if self._url.scheme == "mqtts" else 1883)

    @property
    def connected(self) -> bool:
        """True while the broker connection is up."""
        return self._connected.is_set()

    def set_run(self, run_id: str, start_epoch_ms: int, scenario: str = "") -> None:
        """Tell the publisher which run it serves (before ``start``: it goes into the will)."""
        self._run_id, self._start_epoch_ms = run_id, start_epoch_ms

    async def __aenter__(self) -> MqttPublisher:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Connect (paho retries in the background); wait up to ``connect_timeout_s``."""
        self._loop = asyncio.get_running_loop()
        self._client = client = self._make_client()
        try:
            client.connect_async(self._url.hostname, self._port, self.settings.keepalive_s)
        except (OSError, ValueError) as exc:
            raise MqttError(f"MQTT broker {self.host_port}: {exc}") from exc
        client.loop_start()
        ok = await asyncio.to_thread(self._connected.wait, self.settings.connect_timeout_s)
        if ok:
            return
        msg = (
            f"MQTT broker {self.host_port} is unreachable ({self._last_error or 'no answer'}); "
            f"retrying every <= {self.settings.reconnect_max_s:g} s"
        )
        if self.settings.require_broker:
            await self.stop()
            raise MqttError(msg)
        logger.warning(
            "%s; QoS 1 messages are queued meanwhile (max %d)", msg, self.settings.max_queued
        )

    async def stop(self) -> None:
        """Deliver what is queued (up to ``drain_timeout_s``), mark offline, disconnect."""
        client = self._client
        if client is None:
            return
        if self.pending():  # also while reconnecting: paho sends them once the broker is back
            await self.drain(self.settings.drain_timeout_s)
        if self.connected:
            info = client.publish(self.status_topic, self._status(False, "stopped"), 1, True)
            await asyncio.to_thread(_wait_drained, client, info, 5.0)
        left = self.pending()
        if left:
            logger.error("MQTT: %d QoS>0 messages were not delivered before the shutdown", left)
        self._client = None
        client.disconnect()
        client.loop_stop()
        self._connected.clear()

    async def publish(self, records: Sequence[Record]) -> None:
        """Publish ``records`` in order (never blocks on the network)."""
        client = self._client
        if client is None:
            raise MqttError("MQTT publisher is not started")
        st = self.stats
        for i, rec in enumerate(records):
            if i % 500 == 0:
                await self._backpressure()
            topic, retain, qos = self._route(rec)
            body = payloads.encode(rec, self._run_id, self._start_epoch_ms)
            if self._extras:
                extra = uns_fields(rec)
                if extra:
                    body = body[:-1] + b',"uns":' + orjson.dumps(extra) + b"}"
            rc = client.publish(topic, body, qos, retain).rc
            if rc == mqtt.MQTT_ERR_SUCCESS:
                st.published += 1
            elif rc == mqtt.MQTT_ERR_NO_CONN:
                if qos == 0:
                    st.dropped_qos0 += 1
                else:
                    st.published += 1  # queued by paho, sent after the reconnect
            elif rc == mqtt.MQTT_ERR_QUEUE_SIZE:
                st.dropped_queue_full += 1
                if st.dropped_queue_full in (1, 10, 100) or st.dropped_queue_full % 1000 == 0:
                    logger.error(
                        "MQTT queue full (%d messages): dropped %d QoS %d messages",
                        self.settings.max_queued,
                        st.dropped_queue_full,
                        qos,
                    )
            else:
                st.errors[mqtt.error_string(rc)] = st.errors.get(mqtt.error_string(rc), 0) + 1

    async def _backpressure(self) -> None:
        """While connected, wait for the broker when paho holds over half its queue.

        The runner then falls behind the clock (visible as lag) instead of dropping QoS 1
        messages; only a disconnected publisher fills the queue and drops.
        """
        high = self.settings.max_queued // 2
        if self.pending() < high:
            return
        while self.connected and self.pending() > high // 2:  # noqa: ASYNC110 - paho's thread
            await asyncio.sleep(0.005)

    async def set_clock(self, sim_time: float, speed: float, lag_s: float) -> None:
        """Nothing to do: MQTT payloads carry their own timestamps."""

    def pending(self) -> int:
        """QoS>0 messages paho still holds (waiting or unacknowledged)."""
        client = self._client
        return len(client._out_messages) if client is not None else 0

    async def drain(self, timeout_s: float = 10.0) -> bool:
        """Wait until paho holds no unacknowledged message; False on timeout."""
        return await asyncio.to_thread(self._wait_empty, timeout_s)

    def _wait_empty(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while self.pending() and time.monotonic() < deadline:
            time.sleep(0.01)
        return not self.pending()

    def _route(self, rec: Record) -> tuple[str, bool, int]:
        key = (rec.kind, getattr(rec, "line", None), getattr(rec, "station", None))
        hit = self._topics.get(key)
        if hit is None:
            s = self.settings
            topic, retain, qos = payloads.route(
                rec, self.layout.enterprise, self.layout.site, self.layout.area
            )
            hit = (topic, retain, s.qos_events if qos > 0 else s.qos_samples)
            self._topics[key] = hit
        return hit

    def _make_client(self) -> mqtt.Client:
        s = self.settings
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=s.client_id,
            protocol=mqtt.MQTTv311,
            clean_session=True,
        )
        if self._url.username:
            client.username_pw_set(
                unquote(self._url.username),
                unquote(self._url.password) if self._url.password else None,
            )
        if self._url.scheme == "mqtts":
            client.tls_set()
        client.max_queued_messages_set(s.max_queued)
        client.max_inflight_messages_set(s.max_inflight)
        client.reconnect_delay_set(1, max(1, int(s.reconnect_max_s)))
        client.will_set(self.status_topic, self._status(False, "connection lost"), 1, True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_publish = self._on_publish
        client.on_connect_fail = self._on_connect_fail
        return client

    def _status(self, online: bool, reason: str) -> bytes:
        now = datetime.now(UTC)
        return orjson.dumps(
            {
                "online": online,
                "reason": reason,
                "run_id": self._run_id,
                "ts": now.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
                "ts_ms": round(now.timestamp() * 1000),
            }
        )

    # paho callbacks (network thread)
    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, rc: Any, props: Any = None
    ) -> None:
        if rc.is_failure:
            self._last_error = f"refused: {rc}"
            logger.error("MQTT broker %s refused the connection: %s", self.host_port, rc)
            return
        self.stats.connects += 1
        client.subscribe(self.command_topic, qos=1)
        client.publish(self.status_topic, self._status(True, "running"), 1, True)
        self._connected.set()
        logger.info("MQTT connected to %s", self.host_port)

    def _on_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        self._last_error = "connection failed"

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, rc: Any, props: Any = None
    ) -> None:
        was = self._connected.is_set()
        self._connected.clear()
        if was and self._client is not None:
            logger.warning(
                "MQTT connection to %s lost (%s); reconnecting, QoS 1 messages are queued",
                self.host_port,
                rc,
            )

    def _on_publish(
        self, client: mqtt.Client, userdata: Any, mid: int, rc: Any, props: Any = None
    ) -> None:
        self.stats.acked += 1

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        if msg.topic != self.command_topic:
            return
        rid: str | None = None
        try:
            command, rid = cmds.parse_command(msg.payload, self.layout.stations)
        except cmds.CommandError as exc:
            self._answer(None, False, str(exc), _request_id(msg.payload))
            return
        if self._commands is None or self._loop is None:
            self._answer(command, False, "commands are not enabled", rid)
            return
        fut = asyncio.run_coroutine_threadsafe(self._commands.execute(command), self._loop)
        fut.add_done_callback(lambda f: self._answer_future(command, rid, f))

    def _answer_future(self, command: cmds.Command, rid: str | None, fut: Future[str]) -> None:
        try:
            self._answer(command, True, fut.result(), rid)
        except cmds.CommandError as exc:
            self._answer(command, False, str(exc), rid)
        except Exception as exc:  # a bug must not kill paho's thread; report it
            logger.exception("command %r failed", command)
            self._answer(command, False, f"internal error: {exc}", rid)

    def _answer(self, command: cmds.Command | None, ok: bool, text: str, rid: str | None) -> None:
        if ok:
            self.stats.commands += 1
        else:
            self.stats.rejected_commands += 1
            logger.warning("MQTT command rejected: %s", text)
        body = {
            "id": rid,
            "ok": ok,
            "command": _command_name(command),
            "result" if ok else "error": text,
        }
        client = self._client
        if client is not None:
            client.publish(self.result_topic, orjson.dumps(body), 1, False)


def _command_name(command: cmds.Command | None) -> str | None:
    names = {
        cmds.InjectFailure: "inject_failure",
        cmds.ClearFailure: "clear_failure",
        cmds.SetSpeed: "set_speed",
    }
    return None if command is None else names[type(command)]


def _request_id(payload: bytes) -> str | None:
    try:
        rid = orjson.loads(payload).get("id")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    return rid if isinstance(rid, str) else None


def _wait_drained(client: mqtt.Client, info: mqtt.MQTTMessageInfo, timeout_s: float) -> None:
    """Wait (bounded) until ``info`` and everything before it left paho's queue."""
    try:
        info.wait_for_publish(timeout_s)
    except (RuntimeError, ValueError):
        return

