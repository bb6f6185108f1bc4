"""Publish every record to the MQTT Unified Namespace (paho-mqtt 2.x, one network thread).

Each record goes to ``payloads.route(...)`` as ``payloads.encode(...)``: state (retained) and
events at ``qos_events`` (1), samples and buffer levels at ``qos_samples`` (0). A retained
``{prefix}/_plant/status`` says ``{"online": true}``; the last will sets it to false. Commands
arrive on ``{prefix}/_plant/cmd`` and are answered on ``{prefix}/_plant/cmd/result``.
While the broker is away, QoS 1 messages wait in paho's bounded queue and go out after the
reconnect; QoS 0 messages are dropped and counted. When the queue is at its limit (connected or
not), ``publish`` waits instead of dropping: the run falls behind the clock.

The event loop only encodes: payloads go in batches to a queue that one thread of our own
drains. That thread owns the paho client (publish, network loop, reconnects) and drives it
through paho's external-loop API (``loop_read``/``loop_write``/``loop_misc`` after our own
``select``), so a message costs no thread switch and no wake-up byte (paho's ``loop_start``
and ``loop`` write one to a socket pair per message). With ``on_socket_register_write`` set,
paho's ``publish`` only queues the packet instead of writing it at once: the thread hands a
batch of messages to paho, then writes them with one ``loop_write`` (paho still sends each
packet with a ``send`` of its own). No ``on_publish`` callback
(paho would build a ReasonCode and a Properties object for it per QoS 0 message): ``stats.acked``
and ``pending`` read how many QoS>0 messages paho still holds (``Client._out_messages``). With
paho 2.2 a subclass handles MQTT 3.1.1 PUBACKs without paho's per-packet ReasonCode and
Properties (``_Client``). Both lean on paho internals: tests/live/test_mqtt_paho.py checks them
against the installed paho (source digests of the methods concerned, the behaviour).
"""

from __future__ import annotations

import asyncio
import logging
import select
import threading
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote, urlparse

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt import __version__ as paho_version
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from plant_sim import naming, payloads
from plant_sim.live import commands as cmds
from plant_sim.live.layout import PlantLayout
from plant_sim.live.uns import uns_fields
from plant_sim.records import Record, to_dict

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
    max_queued: int = 50_000  # messages held (QoS>0 unacknowledged + waiting); <= 65,000
    max_inflight: int = 0  # QoS>0 sent, unacknowledged; 0: no limit but max_queued
    connect_timeout_s: float = 10.0  # how long start() waits for the first connection
    require_broker: bool = False  # True: start() fails if not connected by then
    reconnect_max_s: float = 10.0
    drain_timeout_s: float = 30.0  # stop() waits this long for queued messages
    uns_extras: bool = True  # add the readable "uns" object (units, state numbers)


@dataclass(slots=True)
class MqttStats:
    """Counters of the publisher (updated from two threads; read them as a snapshot)."""

    published: int = 0  # handed to paho (QoS 0 ones dropped without a connection are not)
    acked: int = 0  # QoS>0 messages the broker has acknowledged
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
        if not 1 <= s.max_queued <= MAX_QUEUED:
            # paho numbers unacknowledged messages 1..65535; more would collide
            raise MqttError(f"MQTT max_queued: must be 1..{MAX_QUEUED:,}, got {s.max_queued!r}")
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
        # (topic, payload, qos, retain) waiting for the network thread, which alone uses the client
        self._out: deque[tuple[str, bytes, int, bool]] = deque()
        self._thread: threading.Thread | None = None
        self._stop_net = threading.Event()
        self._waiting_logged = False
        self._given_qos = 0  # QoS>0 messages handed to paho (for stats.acked)

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
        """Start the network thread (it connects and retries); wait up to ``connect_timeout_s``."""
        self._loop = asyncio.get_running_loop()
        self._client = client = self._make_client()
        try:
            client.connect_async(self._url.hostname, self._port, self.settings.keepalive_s)
        except (OSError, ValueError) as exc:
            raise MqttError(f"MQTT broker {self.host_port}: {exc}") from exc
        self._stop_net.clear()
        self._thread = threading.Thread(
            target=self._network_main, name=f"mqtt-{self.settings.client_id}", daemon=True
        )
        self._thread.start()
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
        if self.pending():  # also while reconnecting: they go out once the broker is back
            await self.drain(self.settings.drain_timeout_s)
        if self.connected:
            self._out.append((self.status_topic, self._status(False, "stopped"), 1, True))
            await self.drain(5.0)
        left = self.pending()
        if left:
            logger.error("MQTT: %d messages were not delivered before the shutdown", left)
        self._stop_net.set()  # the thread disconnects (no last will) and ends
        thread, self._thread = self._thread, None
        if thread is not None:
            await asyncio.to_thread(thread.join, 10.0)
        self._client = None
        self._connected.clear()

    async def publish(self, records: Sequence[Record], first_n: int | None = None) -> None:
        """Hand ``records`` in order to the network thread; wait while the queue is full.

        ``first_n``: the run's number of ``records[0]`` (``runner.RecordSink``), put in payloads.
        """
        if self._client is None:
            raise MqttError("MQTT publisher is not started")
        chunk = max(1, min(500, self.settings.max_queued // 4))
        out = self._out
        encode = self._encode
        route = self._route
        for i in range(0, len(records), chunk):
            await self._backpressure(chunk)
            msgs = []
            for j, rec in enumerate(records[i : i + chunk], i):
                topic, retain, qos = route(rec)
                msgs.append(
                    (topic, encode(rec, None if first_n is None else first_n + j), qos, retain)
                )
            out.extend(msgs)

    def _encode(self, rec: Record, n: int | None = None) -> bytes:
        """``payloads.encode(rec, ..., n)`` plus the ``uns`` extras, as the same bytes, cheaper."""
        data = to_dict(rec)
        ts_ms = self._start_epoch_ms + round(rec.t * 1000.0)
        if "run_id" not in data:  # run_start carries its own
            data["run_id"] = self._run_id
        data["ts_ms"] = ts_ms
        data["ts"] = _iso_ms(ts_ms)
        if n is not None:
            data["n"] = n
        if self._extras:
            extra = uns_fields(rec)
            if extra:
                data["uns"] = extra
        return orjson.dumps(data)

    async def _backpressure(self, room: int) -> None:
        """Wait (connected or not) while the queue has no ``room`` for the next messages.

        Nothing QoS 1 is dropped: the runner waits here and falls behind the clock (visible as
        lag) until the broker has acknowledged half of the queue.
        """
        limit = self.settings.max_queued
        if self.pending() + room <= limit:
            return
        if not self.connected and not self._waiting_logged:
            self._waiting_logged = True
            logger.warning(
                "MQTT broker %s away and %d messages queued: the run waits for the reconnect",
                self.host_port,
                self.pending(),
            )
        while self.pending() > limit // 2:  # the network thread empties it
            thread = self._thread
            if thread is None or not thread.is_alive():
                raise MqttError("MQTT publisher stopped while messages were waiting")
            await asyncio.sleep(0.005)
        self._waiting_logged = False

    async def set_clock(self, sim_time: float, speed: float, lag_s: float) -> None:
        """Nothing to do: MQTT payloads carry their own timestamps."""

    def pending(self) -> int:
        """Messages not yet handed to the broker, plus QoS>0 ones it has not acknowledged."""
        client = self._client
        held = len(client._out_messages) if client is not None else 0
        return len(self._out) + held

    async def drain(self, timeout_s: float = 10.0) -> bool:
        """Wait until nothing is waiting, unwritten or unacknowledged; False on timeout."""
        return await asyncio.to_thread(self._wait_empty, timeout_s)

    def _wait_empty(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while self._busy() and time.monotonic() < deadline:
            time.sleep(0.01)
        return not self._busy()

    def _busy(self) -> bool:
        """Something pending, packets (QoS 0 ones too) not yet written, or acks not yet counted.

        The last check closes a race: paho drops an acknowledged message from its queue on
        the network thread a moment before that thread brings ``stats.acked`` up to date.
        """
        client = self._client
        if client is None:
            return bool(self._out)
        return bool(self.pending()) or client.want_write() or self.stats.acked != self._given_qos

    # the network thread: the only user of the paho client after start()
    def _network_main(self) -> None:
        client = self._client
        assert client is not None
        delay = 1.0
        while not self._stop_net.is_set():
            try:
                client.reconnect()
            except OSError as exc:
                self._last_error = str(exc) or type(exc).__name__
                self._idle_until(time.monotonic() + delay, client)
                delay = min(delay * 2, max(1.0, self.settings.reconnect_max_s))
                continue
            rc = mqtt.MQTT_ERR_SUCCESS
            while rc == mqtt.MQTT_ERR_SUCCESS and not self._stop_net.is_set():
                busy = self._send_some(client)
                rc = _pump(client, 0.0 if busy else 0.01)
                self._count_acks(client)
                if self._connected.is_set():
                    delay = 1.0
            if self._stop_net.is_set():
                break
            self._connected.clear()
            self._idle_until(time.monotonic() + delay, client)
            delay = min(delay * 2, max(1.0, self.settings.reconnect_max_s))
        client.disconnect()
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline and _pump(client, 0.05) == mqtt.MQTT_ERR_SUCCESS:
            pass

    def _idle_until(self, deadline: float, client: mqtt.Client) -> None:
        """While disconnected: queue QoS>0 messages in paho, drop and count QoS 0 ones."""
        while not self._stop_net.is_set() and time.monotonic() < deadline:
            if not self._send_some(client):
                self._stop_net.wait(0.01)

    def _count_acks(self, client: mqtt.Client) -> None:
        # QoS>0 messages leave paho's _out_messages when the broker acknowledges them (paho
        # keeps them there across reconnects and sends them again): no on_publish callback,
        # which would cost paho a ReasonCode and a Properties object per QoS 0 message
        self.stats.acked = self._given_qos - len(client._out_messages)

    def _send_some(self, client: mqtt.Client) -> bool:
        """Hand waiting messages to paho while it has room; True if any went.

        paho only queues them (``on_socket_register_write`` is set): ``_pump`` writes them
        with one ``loop_write`` per turn instead of one per ``publish``.
        """
        out = self._out
        if not out:
            return False
        st = self.stats
        limit = self.settings.max_queued
        held = client._out_messages
        publish = client.publish
        ok, no_conn = mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN
        n = sent = given = 0
        while out and n < 2000:
            topic, body, qos, retain = out[0]
            if qos and len(held) >= limit:
                break  # wait for acknowledgements; nothing is dropped
            out.popleft()
            n += 1
            rc = publish(topic, body, qos, retain).rc
            if rc == ok or (rc == no_conn and qos):  # QoS>0 without connection: sent later
                sent += 1
                if qos:
                    given += 1
            elif rc == no_conn:
                st.dropped_qos0 += 1
            elif rc == mqtt.MQTT_ERR_QUEUE_SIZE:  # not expected: we keep below the limit
                st.dropped_queue_full += 1
                logger.error("MQTT: paho refused a QoS %d message (queue full)", qos)
            else:
                st.errors[mqtt.error_string(rc)] = st.errors.get(mqtt.error_string(rc), 0) + 1
        st.published += sent
        self._given_qos += given
        return n > 0

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
        client = _Client(
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
        if not isinstance(getattr(client, "_out_messages", None), dict):
            raise MqttError(
                f"paho-mqtt {paho_version}: Client._out_messages is not there; the publisher "
                "counts unacknowledged messages with it (paho-mqtt 2.0-2.2 have it)"
            )
        client.max_queued_messages_set(0)  # the limit is ours: see _send_some
        client.max_inflight_messages_set(s.max_inflight)
        client.reconnect_delay_set(1, max(1, int(s.reconnect_max_s)))
        client.will_set(self.status_topic, self._status(False, "connection lost"), 1, True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        # paho writes inline in publish() unless an external loop registered for writes; this
        # thread writes the queued packets itself, once per turn (_pump)
        client.on_socket_register_write = _ignore_socket
        client.on_socket_unregister_write = _ignore_socket
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
        self._given_qos += 1
        self._connected.set()
        logger.info("MQTT connected to %s", self.host_port)

    def _on_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        self._last_error = "connection failed"

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, rc: Any, props: Any = None
    ) -> None:
        was = self._connected.is_set()
        self._connected.clear()
        if was and self._client is not None and not self._stop_net.is_set():
            logger.warning(
                "MQTT connection to %s lost (%s); reconnecting, QoS 1 messages are queued",
                self.host_port,
                rc,
            )

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
        if self._client is not None:
            self._out.append((self.result_topic, orjson.dumps(body), 1, False))


MAX_QUEUED = 65_000

# paho decodes each PUBACK into a ReasonCode and a Properties object (MQTT 5 fields, ~27 dict
# entries built per packet) even for MQTT 3.1.1, where a PUBACK is the message id alone: about
# half of what an acknowledged message costs the network thread. _Client handles a 3.1.1
# PUBACK itself, with the same steps as paho 2.2's Client._handle_pubackcomp; only for the
# paho releases it was checked against (tests/live/test_mqtt_paho.py compares the source of
# the paho methods it stands in for), stock paho otherwise.
FAST_PUBACK = tuple(int(x) for x in paho_version.split(".")[:2]) == (2, 2)
_PUBACK_REASON = ReasonCode(PacketTypes.PUBACK)
_PUBACK_PROPERTIES = Properties(PacketTypes.PUBACK)


class _Client(mqtt.Client):
    """paho's Client; a PUBACK of MQTT 3.1.1 costs no ReasonCode or Properties of its own."""

    def _handle_pubackcomp(self, cmd: Any) -> mqtt.MQTTErrorCode:
        packet = self._in_packet["packet"]
        if not FAST_PUBACK or cmd != "PUBACK" or self._protocol == mqtt.MQTTv5 or len(packet) != 2:
            return super()._handle_pubackcomp(cmd)
        mid = (packet[0] << 8) | packet[1]
        self._easy_log(mqtt.MQTT_LOG_DEBUG, "Received %s (Mid: %d)", cmd, mid)
        with self._out_message_mutex:
            if mid in self._out_messages:
                # only inform the client the message has been sent once (paho's comment);
                # the reason code (success) and properties (none) are shared, read-only
                return self._do_on_publish(mid, _PUBACK_REASON, _PUBACK_PROPERTIES)
        return mqtt.MQTT_ERR_SUCCESS


def _ignore_socket(client: mqtt.Client, userdata: Any, sock: Any) -> None:
    """``on_socket_(un)register_write``: nothing to register, ``_pump`` asks ``want_write``."""


def _pump(client: mqtt.Client, timeout: float) -> mqtt.MQTTErrorCode:
    """One turn of paho's external-loop API: write what is queued, wait up to ``timeout`` for
    the socket, read, keepalive. What ``Client.loop`` does, without its wake-up socket pair."""
    sock = client.socket()
    if sock is None:
        return mqtt.MQTT_ERR_NO_CONN
    if client.want_write():
        rc = client.loop_write()
        if rc != mqtt.MQTT_ERR_SUCCESS or client.socket() is None:
            return rc or mqtt.MQTT_ERR_NO_CONN
    tls_pending = sock.pending() if hasattr(sock, "pending") else 0  # decrypted, not yet read
    try:
        readable, writable, _ = select.select(
            [sock], [sock] if client.want_write() else [], [], 0.0 if tls_pending else timeout
        )
    except (OSError, TypeError, ValueError):  # closed meanwhile
        return mqtt.MQTT_ERR_CONN_LOST
    if readable or tls_pending:
        rc = client.loop_read()
        if rc != mqtt.MQTT_ERR_SUCCESS or client.socket() is None:
            return rc or mqtt.MQTT_ERR_NO_CONN
    if writable:
        rc = client.loop_write()
        if rc != mqtt.MQTT_ERR_SUCCESS or client.socket() is None:
            return rc or mqtt.MQTT_ERR_NO_CONN
    return client.loop_misc()


def _day_prefix(day: int) -> str:
    return (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(days=day)).strftime("%Y-%m-%dT")


_DAYS: dict[int, str] = {}
_last_second: tuple[int, str] = (-1, "")  # an epoch second and its "YYYY-MM-DDTHH:MM:SS."


def _iso_ms(ts_ms: int) -> str:
    """``payloads.iso_ms`` without a datetime per call (the date cached per day, the time of
    day for the last second: records come in time order, many in the same second)."""
    global _last_second
    sec, ms = divmod(ts_ms, 1000)
    last = _last_second  # one tuple: threads see a matching pair
    if last[0] != sec:
        day, rest = divmod(sec, 86_400)
        prefix = _DAYS.get(day)
        if prefix is None:
            prefix = _DAYS[day] = _day_prefix(day)
        h, rest = divmod(rest, 3600)
        m, rest = divmod(rest, 60)
        last = _last_second = (sec, f"{prefix}{h:02d}:{m:02d}:{rest:02d}.")
    return f"{last[1]}{ms:03d}Z"


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
