"""MQTT source: a lean MQTT 3.1.1 QoS 1 subscriber with a persistent session (the default).

Same guarantees as the paho source (``mqtt_client = "paho"``): fixed client id, clean session off,
subscriptions made once per session, and each QoS 1 message acknowledged only after the ingest
stage committed it to the disk buffer; a crash therefore makes the broker send it again (``dup``).
It reads the socket in large chunks, parses every complete packet at once and sends the PUBACKs
of a committed batch in one write, which is what lets one Python thread take 30k+ messages/s.
Acknowledgements queued for a connection that has since dropped are discarded (the broker
redelivers those messages on the new connection).
"""

from __future__ import annotations

import logging
import queue
import select
import socket
import threading
import time
from collections import deque
from functools import partial
from urllib.parse import unquote, urlsplit

from gateway.errors import SourceError
from gateway.normalize import RawMessage
from gateway.settings import GatewaySettings
from gateway.sources import mqtt_wire as wire
from gateway.sources.base import wait_subscribed
from gateway.sources.mqtt import RECORD_LEVELS

logger = logging.getLogger(__name__)
RECV_BYTES = 256 * 1024


class FastMqttSource:
    """Receives in one thread; ``stop()`` disconnects (unacknowledged messages stay queued)."""

    name = "mqtt"

    def __init__(self, settings: GatewaySettings, intake: queue.Queue[RawMessage]) -> None:
        self.settings = settings
        self.intake = intake
        parts = urlsplit(settings.mqtt_url or "")
        self.host = parts.hostname or "localhost"
        self.port = parts.port or 1883
        self.endpoint = f"mqtt://{self.host}:{self.port}"
        self.username = settings.mqtt_username or (
            unquote(parts.username) if parts.username else None
        )
        self.password = (
            settings.mqtt_password.get_secret_value()
            if settings.mqtt_password
            else (unquote(parts.password) if parts.password else None)
        )
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self.paused = threading.Event()
        self.ignored = 0
        self._stopping = threading.Event()
        self._acks: deque[tuple[int, int]] = deque()  # (connection generation, packet id)
        self._generation = 0
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None

    def start(self, require: bool) -> None:
        """Connect once (raising ``SourceError`` if ``require`` and it fails), then run.

        Once connected, waits for the broker to confirm the subscriptions.
        """
        try:
            self._connect()
        except (OSError, wire.ProtocolError) as exc:
            message = f"MQTT broker {self.endpoint} (setting mqtt_url): {exc}"
            if require:
                raise SourceError(message) from exc
            logger.warning("%s; retrying in the background", message)
        self._thread = threading.Thread(target=self._run, name="gateway-mqtt", daemon=True)
        self._thread.start()
        if self.connected.is_set():
            wait_subscribed(self.subscribed, self.endpoint)

    def pause(self) -> None:
        """Stop taking messages but keep sending acknowledgements (before a graceful stop)."""
        self.paused.set()

    def stop(self) -> None:
        """Flush pending acknowledgements, disconnect and end the thread."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    # ------------------------------------------------------------ connection

    def _connect(self) -> None:
        s = self.settings
        sock = socket.create_connection((self.host, self.port), timeout=10)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            sock.sendall(
                wire.connect(
                    s.mqtt_client_id, s.mqtt_keepalive_s, False, self.username, self.password
                )
            )
            parser = wire.Parser()
            packets: list = []
            while not packets:
                data = sock.recv(4096)
                if not data:
                    raise ConnectionError("connection closed before CONNACK")
                packets = parser.feed(data)
            ack = packets[0]
            if not isinstance(ack, wire.Packet) or ack.type != wire.CONNACK or len(ack.body) < 2:
                raise wire.ProtocolError("expected CONNACK")
            if ack.body[1]:
                raise ConnectionRefusedError(
                    f"broker refused: {wire.CONNACK_ERRORS.get(ack.body[1], ack.body[1])}"
                )
            session_present = bool(ack.body[0] & 1)
            if session_present:
                self.subscribed.set()  # the broker kept the subscriptions of the session
            else:
                sock.sendall(wire.subscribe(1, [(t, 1) for t in s.mqtt_topics]))
        except BaseException:
            sock.close()
            raise
        sock.settimeout(None)
        self._parser = parser
        self._pending = packets[1:]
        self._generation += 1
        self._sock = sock
        self._last_sent = time.monotonic()
        self.connected.set()
        logger.info("MQTT connected to %s (session present: %s)", self.endpoint, session_present)

    def _run(self) -> None:
        delay = 1.0
        while not self._stopping.is_set():
            if self._sock is None:
                try:
                    self._connect()
                    delay = 1.0
                except (OSError, wire.ProtocolError) as exc:
                    logger.warning("MQTT %s: %s; retrying in %.0f s", self.endpoint, exc, delay)
                    self._stopping.wait(delay)
                    delay = min(delay * 2, 30.0)
                    continue
            try:
                self._serve()
            except (OSError, wire.ProtocolError) as exc:
                if not self._stopping.is_set():
                    logger.warning(
                        "MQTT disconnected from %s (%s); reconnecting", self.endpoint, exc
                    )
                self._close()
        self._close(graceful=True)

    def _close(self, graceful: bool = False) -> None:
        sock, self._sock = self._sock, None
        self.connected.clear()
        self.subscribed.clear()
        if sock is None:
            return
        try:
            if graceful:
                self._flush_acks(sock)
                sock.sendall(wire.DISCONNECT)
        except OSError:
            pass
        sock.close()

    # ------------------------------------------------------------ receiving

    def _serve(self) -> None:
        sock = self._sock
        assert sock is not None
        self._handle(self._pending)
        keepalive = self.settings.mqtt_keepalive_s
        last_rx = time.monotonic()
        while not self._stopping.is_set():
            self._flush_acks(sock)
            readable, _, _ = select.select([sock], [], [], 0.02)
            now = time.monotonic()
            if readable and not self.paused.is_set():
                data = sock.recv(RECV_BYTES)
                if not data:
                    raise ConnectionError("connection closed by the broker")
                last_rx = now
                self._handle(self._parser.feed(data))
            elif now - last_rx > keepalive * 1.5 and not self.paused.is_set():
                raise TimeoutError("no packet from the broker within 1.5 keep-alive periods")
            if now - self._last_sent > keepalive / 2:
                sock.sendall(wire.PINGREQ)
                self._last_sent = now

    def _handle(self, packets: list) -> None:
        generation = self._generation
        ack_later = self._acks.append
        now_ns = time.time_ns()
        batch: list[RawMessage] = []
        name = self.name
        for pkt in packets:
            if type(pkt) is not wire.Publish:
                if pkt.type == wire.SUBACK:
                    self._subscription_answered(pkt)
                continue
            # the PUBACK is queued (by the ingest stage, after its commit) as (generation, id)
            ack = partial(ack_later, (generation, pkt.packet_id)) if pkt.qos else None
            topic = pkt.topic
            if topic[topic.rfind("/") + 1 :] not in RECORD_LEVELS:
                self.ignored += 1
                if ack is not None:
                    ack()
                continue
            batch.append(RawMessage(name, pkt.payload, topic, pkt.dup or pkt.retain, now_ns, ack))
        if batch:
            self._put(batch)  # one hand-off per socket read (the intake counts messages)

    def _subscription_answered(self, suback: wire.Packet) -> None:
        if b"\x80" in suback.body[2:]:
            logger.error("MQTT broker refused a subscription of %s", self.settings.mqtt_topics)
        else:
            self.subscribed.set()

    def _put(self, raw: list[RawMessage]) -> None:
        while not self._stopping.is_set():
            try:
                self.intake.put(raw, timeout=0.05)
                return
            except queue.Full:
                if self._sock is not None:
                    self._flush_acks(self._sock)  # keep acknowledging while the intake is full

    def _flush_acks(self, sock: socket.socket) -> None:
        if not self._acks:
            return
        ids = []
        generation = self._generation
        while self._acks:
            gen, pid = self._acks.popleft()
            if gen == generation:
                ids.append(pid)
        if ids:
            sock.sendall(wire.pubacks(ids))
            self._last_sent = time.monotonic()
