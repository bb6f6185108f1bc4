"""MQTT source: a persistent-session QoS 1 subscriber to the UNS topics (``twin_io.mqtt``).

The session has a fixed client id and ``clean_session=False``, so the broker keeps the
subscription and queues messages while the gateway is away. Acknowledgements are manual
(paho's ``manual_ack``): a QoS 1 message is acknowledged (PUBACK) only after the ingest stage
committed it to the disk buffer (or set it aside), so a gateway crash makes the broker deliver
it again, flagged ``dup``. Retained messages (sent again on every subscription) are flagged as
possible repeats too. The topic filters are subscribed on every connection, so changed filters
take effect even when the broker kept the session.

One network thread (``NetworkLoop``) reads bursts of messages and hands them to the intake as
one list; the acknowledgements the ingest stage queues go out on that thread's next turn, in
one write. Acknowledgements queued for a connection that has since dropped are discarded (the
broker redelivers those messages on the new connection). Loss the gateway cannot prevent is
made visible: Mosquitto's count of dropped messages (``$SYS/broker/publish/messages/dropped``,
e.g. beyond ``max_queued_messages``) is logged when it rises and stored as ``broker_dropped``.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from functools import partial
from typing import Any

import paho.mqtt.client as mqtt

from gateway.errors import SourceError
from gateway.normalize import RawMessage
from gateway.settings import GatewaySettings
from gateway.sources.base import wait_or_stop, wait_subscribed
from plant_sim import payloads
from twin_io.mqtt import NetworkLoop, make_client
from twin_io.retry import Backoff
from twin_io.stop_signals import process_stop_requested

logger = logging.getLogger(__name__)

RECORD_LEVELS = frozenset(level for level, _retain, _qos in payloads._ROUTES.values())
"""Last topic levels that carry records; other topics (status, commands) are ignored."""
CONNECT_WAIT_S = 10.0
BROKER_DROPPED_TOPIC = "$SYS/broker/publish/messages/dropped"
"""Mosquitto's count of messages it dropped (queue limits) since it started, every sys_interval."""


class MqttSource:
    """Subscribes, hands messages to the intake, acknowledges after commit."""

    name = "mqtt"

    def __init__(self, settings: GatewaySettings, intake: queue.Queue[RawMessage]) -> None:
        self.settings = settings
        self.intake = intake
        self.options = settings.mqtt_options()
        self.endpoint = self.options.endpoint
        self.record_levels_only = True  # False: every topic (other producers' JSON, mapped)
        self.subscribed = threading.Event()
        self.ignored = 0
        self.broker_dropped = 0  # the broker's own count of dropped messages (all clients)
        self._records_mid = -1  # message id of the SUBSCRIBE of the record topics
        self._paused = False
        self._stopping = threading.Event()
        self._batch: list[RawMessage] = []
        self._acks: deque[tuple[int, int]] = deque()  # (connection generation, message id)
        self._generation = 0
        client = make_client(
            self.options, settings.mqtt_client_id, clean_session=False, manual_ack=True
        )
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        self.loop = NetworkLoop(
            client,
            self.options,
            keepalive_s=settings.mqtt_keepalive_s,
            backoff=Backoff(),
            on_turn=self._turn,
            name="gateway-mqtt",
        )

    @property
    def connected(self) -> threading.Event:
        """Set while the broker connection is up."""
        return self.loop.connected

    def start(self, require: bool) -> None:
        """Start the network thread; wait for the connection and the subscriptions.

        Raises ``SourceError`` if ``require`` and the broker cannot be reached.
        """
        self.loop.start()
        wait_or_stop(self.loop.attempted, CONNECT_WAIT_S)
        if self.loop.connected.is_set():
            wait_subscribed(self.subscribed, self.endpoint)
            return
        if process_stop_requested():  # the gateway stops next: not a failure to connect
            logger.info("stop requested while connecting to MQTT broker %s", self.endpoint)
            return
        message = (
            f"MQTT broker {self.endpoint} (setting mqtt_url): {self.loop.last_error or 'no answer'}"
        )
        if require:
            self.stop()
            raise SourceError(message)
        logger.warning("%s; retrying in the background", message)

    def pause(self) -> None:
        """Stop taking messages but keep sending acknowledgements (before a graceful stop)."""
        self._paused = True
        self.loop.reading.clear()

    def stop(self) -> None:
        """Send pending acknowledgements, disconnect; unacknowledged messages stay queued."""
        self._stopping.set()
        self.loop.stop()

    # network thread ------------------------------------------------------------

    def _turn(self, client: mqtt.Client) -> bool:
        """Hand received messages to the intake; send queued acknowledgements."""
        busy = False
        if self._batch:
            try:
                self.intake.put(self._batch, timeout=0.05)
            except queue.Full:
                self.loop.reading.clear()  # read nothing more until the intake has room
            else:
                self._batch = []
                busy = True
                if not self._paused:
                    self.loop.reading.set()
        acks = self._acks
        if acks:
            generation = self._generation
            while acks:
                gen, mid = acks.popleft()
                if gen == generation:
                    client.ack(mid, 1)
            busy = True
        return busy

    def _on_connect(
        self, client: mqtt.Client, _u: Any, flags: Any, reason: Any, _p: Any = None
    ) -> None:
        if reason.is_failure:
            logger.error("MQTT broker %s refused the connection: %s", self.endpoint, reason)
            return
        self._generation += 1
        logger.info(
            "MQTT connected to %s (session present: %s)", self.endpoint, flags.session_present
        )
        _rc, self._records_mid = client.subscribe([(t, 1) for t in self.settings.mqtt_topics])
        client.subscribe(BROKER_DROPPED_TOPIC, 0)  # refused by an ACL: then not watched

    def _on_subscribe(
        self, _c: mqtt.Client, _u: Any, mid: int, reasons: list[Any], _p: Any = None
    ) -> None:
        if mid != self._records_mid:
            if any(reason.is_failure for reason in reasons):
                logger.info("MQTT broker %s does not show its drop count", self.endpoint)
            return
        if any(reason.is_failure for reason in reasons):
            logger.error("MQTT broker refused a subscription of %s", self.settings.mqtt_topics)
            return
        self.subscribed.set()

    def _on_disconnect(
        self, _c: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any = None
    ) -> None:
        self.subscribed.clear()
        if not self._stopping.is_set():
            logger.warning("MQTT disconnected from %s (%s); reconnecting", self.endpoint, reason)

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        if msg.topic == BROKER_DROPPED_TOPIC:  # never a record: QoS 0, nothing to ack
            self._broker_dropped(msg.payload)
            return
        qos = msg.qos
        ack = partial(self._acks.append, (self._generation, msg.mid)) if qos else None
        try:
            topic = msg.topic
        except UnicodeDecodeError:
            topic = ""  # not a UNS topic: ignored below
        if self.record_levels_only and topic[topic.rfind("/") + 1 :] not in RECORD_LEVELS:
            self.ignored += 1
            if ack is not None:
                ack()
            return
        self._batch.append(
            RawMessage(self.name, msg.payload, topic, msg.dup or msg.retain, time.time_ns(), ack)
        )

    def _broker_dropped(self, payload: bytes) -> None:
        """Log the broker's drop count when it is above zero and changed; keep it for stats."""
        try:
            count = int(payload)
        except ValueError:
            return
        if count > 0 and count != self.broker_dropped:
            logger.warning(
                "MQTT broker %s has dropped %d messages since it started (%+d; all clients): "
                "records may be missing; raise max_queued_messages in mosquitto.conf",
                self.endpoint,
                count,
                count - self.broker_dropped,
            )
        self.broker_dropped = count
