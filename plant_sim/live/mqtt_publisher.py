"""Publish every record to the MQTT Unified Namespace (``twin_io.mqtt``: paho, one network thread).

Each record goes to ``payloads.route(...)`` as ``payloads.encode(...)``: state (retained) and
events at ``qos_events`` (1), samples and buffer levels at ``qos_samples`` (1 by default, so a
subscriber's outage loses nothing; 0 trades that for less traffic). A retained
``{prefix}/_plant/status`` says ``{"online": true}``; the last will sets it to false. Commands
arrive on ``{prefix}/_plant/cmd`` and are answered on ``{prefix}/_plant/cmd/result``.
While the broker is away, QoS 1 messages wait in paho's queue and go out after the reconnect;
QoS 0 messages are dropped, counted, logged and reported on the status topic. When
``max_queued`` messages are held (connected or not), ``publish`` waits instead of dropping: the
run falls behind the clock.

The event loop only encodes: payloads go in batches to a queue that the network thread
(``twin_io.mqtt.NetworkLoop``) hands to paho at each turn; paho only queues them and one
``loop_write`` sends them. Unacknowledged QoS>0 messages are counted by message id with
paho's ``on_publish`` callback, nothing else.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import paho.mqtt.client as mqtt

from plant_sim import naming, payloads
from plant_sim.live import commands as cmds
from plant_sim.live.layout import PlantLayout
from plant_sim.live.uns import uns_fields
from plant_sim.records import Record, to_dict
from twin_io.mqtt import (
    BrokerAccess,
    MqttConfigError,
    NetworkLoop,
    make_client,
    wait_drained,
    wait_event,
)
from twin_io.retry import Backoff

logger = logging.getLogger(__name__)


class MqttError(RuntimeError):
    """The MQTT side cannot work as asked; the message names the broker and what to do."""


@dataclass(frozen=True, slots=True, repr=False)  # BrokerAccess's repr: no secret
class MqttSettings(BrokerAccess):
    """Broker URL (``mqtt://[user:pass@]host[:port]``, ``mqtts://`` for TLS), credentials, TLS
    files (``twin_io.mqtt.MqttOptions``) and delivery."""

    client_id: str = "smart-factory-twin-sim"
    qos_events: int = 1
    qos_samples: int = 1  # 1: an outage of a subscriber (the gateway) loses no sample either
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
    undelivered: int = 0  # messages still held when stop() gave up
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
        try:
            self.options = s.options()
        except MqttConfigError as exc:
            raise MqttError(str(exc)) from None
        self._commands = commands
        prefix = "/".join(
            naming.topic_segment(p) for p in (layout.enterprise, layout.site, layout.area)
        )
        self.status_topic = f"{prefix}/_plant/status"
        self.command_topic = f"{prefix}/_plant/cmd"
        self.result_topic = f"{prefix}/_plant/cmd/result"
        self.stats = MqttStats()
        self._extras = s.uns_extras
        self._topics: dict[tuple[str, str | None, str | None], tuple[str, bool, int]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._net: NetworkLoop | None = None
        self._run_id = ""
        self._start_epoch_ms = 0
        # (topic, payload, qos, retain) waiting for the network thread, which alone uses the client
        self._out: deque[tuple[str, bytes, int, bool]] = deque()
        self._held: set[int] = set()  # message ids of QoS>0 messages paho holds, not yet acked
        self._given_qos = 0  # QoS>0 messages handed to paho (pending = given - acked)
        self._drops_logged = 0
        self._waiting_logged = False
        self._stopping = False
        self._give_up = threading.Event()  # a second stop signal: deliver nothing more

    @property
    def host_port(self) -> str:
        """``host:port`` of the broker, for messages."""
        return f"{self.options.host}:{self.options.port}"

    @property
    def connected(self) -> bool:
        """True while the broker connection is up."""
        return self._net is not None and self._net.connected.is_set()

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
        self._stopping = False
        s = self.settings
        try:
            client = self._make_client()
        except MqttConfigError as exc:
            raise MqttError(str(exc)) from None
        self._net = NetworkLoop(
            client,
            self.options,
            keepalive_s=s.keepalive_s,
            backoff=Backoff(1.0, max(1.0, s.reconnect_max_s)),
            on_turn=self._send_some,
            name=f"mqtt-{s.client_id}",
        )
        try:
            self._net.start()
        except (OSError, ValueError) as exc:
            raise MqttError(f"MQTT broker {self.host_port}: {exc}") from exc
        net = self._net
        endpoint = self.options.endpoint
        logger.info("MQTT: connecting to %s (waiting up to %g s)", endpoint, s.connect_timeout_s)
        try:
            if await wait_event(net.connected, s.connect_timeout_s):
                return
        except asyncio.CancelledError:  # Ctrl-C while waiting: end the network thread too
            self._stopping = True
            self._net = None
            net.stop(1.0)
            raise
        msg = (
            f"MQTT broker {self.options.endpoint} is unreachable "
            f"({net.last_error or 'no answer'}); retrying every <= {s.reconnect_max_s:g} s"
        )
        if s.require_broker:
            await self.stop()
            raise MqttError(msg)
        logger.warning("%s; QoS 1 messages are queued meanwhile (max %d)", msg, s.max_queued)

    async def stop(self) -> None:
        """Deliver what is queued (up to ``drain_timeout_s``), mark offline, disconnect.

        Messages still held then are counted in ``stats.undelivered`` and logged as an error.
        """
        net = self._net
        if net is None:
            return
        if self.pending():  # also while reconnecting: they go out once the broker is back
            logger.info(
                "stopping: waiting up to %g s for %d MQTT messages to reach %s (stop again: "
                "do not wait)",
                self.settings.drain_timeout_s,
                self.pending(),
                self.options.endpoint,
            )
            await self.drain(self.settings.drain_timeout_s)
        if self.connected and not self._give_up.is_set():
            self._out.append((self.status_topic, self._status(False, "stopped"), 1, True))
            await self.drain(5.0)
        self._log_drops()
        left = self.pending()
        if left:
            self.stats.undelivered = left
            logger.error(
                "MQTT: %d messages were not delivered to %s %s",
                left,
                self.options.endpoint,
                "(the stop was requested again)"
                if self._give_up.is_set()
                else f"within {self.settings.drain_timeout_s:g} s of the shutdown",
            )
        self._stopping = True  # the disconnect that follows is ours
        await asyncio.to_thread(net.stop, 10.0)  # disconnects (no last will) and ends
        self._net = None

    async def publish(self, records: Sequence[Record], first_n: int | None = None) -> None:
        """Hand ``records`` in order to the network thread; wait while the queue is full.

        ``first_n``: the run's number of ``records[0]`` (``runner.RecordSink``), put in payloads.
        """
        if self._net is None:
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
            net = self._net
            if net is None or not net.alive:
                raise MqttError("MQTT publisher stopped while messages were waiting")
            await asyncio.sleep(0.005)
        self._waiting_logged = False

    async def set_clock(self, sim_time: float, speed: float, lag_s: float) -> None:
        """Nothing to do: MQTT payloads carry their own timestamps."""

    def pending(self) -> int:
        """Messages not yet handed to the broker, plus QoS>0 ones it has not acknowledged."""
        return len(self._out) + self._given_qos - self.stats.acked

    async def drain(self, timeout_s: float = 10.0) -> bool:
        """Wait until nothing is waiting, unwritten or unacknowledged; False on timeout."""
        return await asyncio.to_thread(self._wait_empty, timeout_s)

    @property
    def gave_up(self) -> bool:
        """Whether ``give_up`` was called (the report then says so, not a timeout)."""
        return self._give_up.is_set()

    def give_up(self) -> None:
        """Stop waiting for undelivered messages (a second SIGINT/SIGTERM while stopping);
        ``stop`` then counts and reports them at once."""
        self._give_up.set()

    def _wait_empty(self, timeout_s: float) -> bool:
        return wait_drained(self._busy, time.monotonic() + timeout_s, self._give_up, 0.01)

    def _busy(self) -> bool:
        """Something pending, or packets (QoS 0 ones too) not yet written."""
        net = self._net
        if net is None:
            return bool(self._out)
        return bool(self.pending()) or net.client.want_write()

    # the network thread: the only user of the paho client after start()
    def _on_publish(
        self, client: mqtt.Client, userdata: Any, mid: int, rc: Any, props: Any = None
    ) -> None:
        """paho: a QoS 0 message was written, or a QoS>0 one acknowledged by the broker."""
        held = self._held
        if mid in held:
            held.discard(mid)
            self.stats.acked += 1

    def _send_some(self, client: mqtt.Client) -> bool:
        """Hand waiting messages to paho while it has room; True if any went.

        paho only queues them: the network loop writes them with one
        ``loop_write`` per turn instead of one per ``publish``.
        """
        out = self._out
        if not out:
            return False
        st = self.stats
        limit = self.settings.max_queued
        held = self._held
        publish = client.publish
        ok, no_conn = mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN
        n = sent = 0
        while out and n < 2000:
            topic, body, qos, retain = out[0]
            if qos:
                if len(held) >= limit:
                    break  # wait for acknowledgements; nothing is dropped
                self._given_qos += 1  # before it leaves _out: pending() never undercounts
            out.popleft()
            n += 1
            info = publish(topic, body, qos, retain)
            rc = info.rc
            if rc == ok or (rc == no_conn and qos):  # QoS>0 without connection: sent later
                sent += 1
                if qos:
                    held.add(info.mid)
                continue
            if qos:
                self._given_qos -= 1
            if rc == no_conn:
                st.dropped_qos0 += 1
            elif rc == mqtt.MQTT_ERR_QUEUE_SIZE:  # not expected: we keep below the limit
                st.dropped_queue_full += 1
                logger.error("MQTT: paho refused a QoS %d message (queue full)", qos)
            else:
                st.errors[mqtt.error_string(rc)] = st.errors.get(mqtt.error_string(rc), 0) + 1
        st.published += sent
        return n > 0

    def _log_drops(self) -> None:
        dropped = self.stats.dropped_qos0
        if dropped > self._drops_logged:
            logger.warning(
                "MQTT: %d QoS 0 messages (samples, buffer levels) dropped while the broker %s "
                "was away (%d in this run); publish them at QoS 1 (--qos-samples 1) to keep them",
                dropped - self._drops_logged,
                self.host_port,
                dropped,
            )
            self._drops_logged = dropped

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
        # max_queued is ours (see _send_some): paho's own limit stays off
        client = make_client(
            self.options, s.client_id, clean_session=True, max_inflight=s.max_inflight
        )
        client.will_set(self.status_topic, self._will(), 1, True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_publish = self._on_publish
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
                "dropped_qos0": self.stats.dropped_qos0,
            }
        )

    def _will(self) -> bytes:
        """The last will: the broker sends it when the connection is lost, a moment nobody
        knows in advance, so it carries no time (``ts`` null; subscribers date it on receipt)."""
        return orjson.dumps(
            {
                "online": False,
                "reason": "connection lost",
                "run_id": self._run_id,
                "ts": None,
                "ts_ms": None,
            }
        )

    # paho callbacks (network thread)
    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, rc: Any, props: Any = None
    ) -> None:
        if rc.is_failure:
            logger.error("MQTT broker %s refused the connection: %s", self.host_port, rc)
            return
        self.stats.connects += 1
        client.subscribe(self.command_topic, qos=1)
        self._log_drops()
        info = client.publish(self.status_topic, self._status(True, "running"), 1, True)
        self._held.add(info.mid)
        self._given_qos += 1
        logger.info("MQTT connected to %s", self.options.endpoint)

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, rc: Any, props: Any = None
    ) -> None:
        if not self._stopping and self.stats.connects:
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
            name, rid = _command_and_id(msg.payload)
            self._answer(name, False, str(exc), rid)
            return
        if self._commands is None or self._loop is None:
            self._answer(_command_name(command), False, "commands are not enabled", rid)
            return
        fut = asyncio.run_coroutine_threadsafe(self._commands.execute(command), self._loop)
        fut.add_done_callback(lambda f: self._answer_future(command, rid, f))

    def _answer_future(self, command: cmds.Command, rid: str | None, fut: Future[str]) -> None:
        name = _command_name(command)
        try:
            self._answer(name, True, fut.result(), rid)
        except cmds.CommandError as exc:
            self._answer(name, False, str(exc), rid)
        except Exception as exc:  # a bug must not kill the network thread; report it
            logger.exception("command %r failed", command)
            self._answer(name, False, f"internal error: {exc}", rid)

    def _answer(self, command: str | None, ok: bool, text: str, rid: str | None) -> None:
        if ok:
            self.stats.commands += 1
        else:
            self.stats.rejected_commands += 1
            logger.warning("MQTT command rejected: %s", text)
        body = {"id": rid, "ok": ok, "command": command, "result" if ok else "error": text}
        if self._net is not None:
            self._out.append((self.result_topic, orjson.dumps(body), 1, False))


MAX_QUEUED = 65_000
COMMAND_NAMES = {
    cmds.InjectFailure: "inject_failure",
    cmds.ClearFailure: "clear_failure",
    cmds.SetSpeed: "set_speed",
}


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


def _command_name(command: cmds.Command) -> str:
    return COMMAND_NAMES[type(command)]


def _command_and_id(payload: bytes) -> tuple[str | None, str | None]:
    """The command name (when it is one the twin knows) and request id of a refused command."""
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None, None
    if not isinstance(data, dict):
        return None, None
    name, rid = data.get("command"), data.get("id")
    known = name if isinstance(name, str) and name in COMMAND_NAMES.values() else None
    return known, rid if isinstance(rid, str) else None
