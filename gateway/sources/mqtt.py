"""MQTT source: a persistent-session QoS 1 subscriber to the UNS topics (paho-mqtt 2.x).

The session has a fixed client id and ``clean_session=False``, so the broker keeps the
subscription and queues messages while the gateway is away. Acknowledgements are manual: a
QoS 1 message is acknowledged (PUBACK) only after the ingest stage committed it to the disk
buffer (or set it aside), so a gateway crash makes the broker deliver it again, flagged ``dup``.
Retained messages (sent again on every new subscription) are flagged as possible repeats too.
"""

from __future__ import annotations

import functools
import logging
import queue
import threading
import time
from typing import Any
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt

from gateway.errors import SourceError
from gateway.normalize import RawMessage
from gateway.settings import GatewaySettings
from gateway.sources.base import put, wait_subscribed
from plant_sim import payloads

logger = logging.getLogger(__name__)

RECORD_LEVELS = frozenset(level for level, _retain, _qos in payloads._ROUTES.values())
"""Last topic levels that carry records; other topics (status, commands) are ignored."""


class MqttSource:
    """Subscribes, hands messages to the intake, acknowledges after commit."""

    name = "mqtt"

    def __init__(self, settings: GatewaySettings, intake: queue.Queue[RawMessage]) -> None:
        self.settings = settings
        self.intake = intake
        self.record_levels_only = True  # False: every topic (other producers' JSON, mapped)
        self._stopping = threading.Event()
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self.ignored = 0
        parts = urlsplit(settings.mqtt_url or "")
        self.host = parts.hostname or "localhost"
        self.port = parts.port or 1883
        self.endpoint = f"mqtt://{self.host}:{self.port}"
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=settings.mqtt_client_id,
            clean_session=False,
            protocol=mqtt.MQTTv311,
            manual_ack=True,
        )
        username = settings.mqtt_username or (unquote(parts.username) if parts.username else None)
        password = (
            settings.mqtt_password.get_secret_value()
            if settings.mqtt_password
            else (unquote(parts.password) if parts.password else None)
        )
        if username:
            self.client.username_pw_set(username, password)
        self.client.reconnect_delay_set(1, 30)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message

    def start(self, require: bool) -> None:
        """Connect, start paho's network thread and wait for the subscriptions to be confirmed.

        Raises ``SourceError`` if ``require`` and the broker cannot be reached.
        """
        reached = True
        try:
            self.client.connect(self.host, self.port, keepalive=self.settings.mqtt_keepalive_s)
        except OSError as exc:
            message = f"MQTT broker {self.endpoint} (setting mqtt_url): {exc}"
            if require:
                raise SourceError(message) from exc
            logger.warning("%s; retrying in the background", message)
            self.client.connect_async(self.host, self.port, self.settings.mqtt_keepalive_s)
            reached = False
        self.client.loop_start()
        if reached:
            wait_subscribed(self.subscribed, self.endpoint)

    def pause(self) -> None:
        """Nothing to do: paho cannot pause reading (un-acked messages are redelivered)."""

    def stop(self) -> None:
        """Disconnect; unacknowledged messages stay with the broker."""
        self._stopping.set()
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(
        self, client: mqtt.Client, _u: Any, flags: Any, reason: Any, _p: Any = None
    ) -> None:
        if reason.is_failure:
            logger.error("MQTT broker %s refused the connection: %s", self.endpoint, reason)
            return
        logger.info(
            "MQTT connected to %s (session present: %s)", self.endpoint, flags.session_present
        )
        if flags.session_present:
            self.subscribed.set()  # the broker kept the subscriptions of the session
        else:
            client.subscribe([(topic, 1) for topic in self.settings.mqtt_topics])
        self.connected.set()

    def _on_subscribe(
        self, _c: mqtt.Client, _u: Any, _mid: int, reasons: list[Any], _p: Any = None
    ) -> None:
        if any(reason.is_failure for reason in reasons):
            logger.error("MQTT broker refused a subscription of %s", self.settings.mqtt_topics)
            return
        self.subscribed.set()

    def _on_disconnect(
        self, _c: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any = None
    ) -> None:
        self.connected.clear()
        self.subscribed.clear()
        if not self._stopping.is_set():
            logger.warning("MQTT disconnected from %s (%s); reconnecting", self.endpoint, reason)

    def _on_message(self, client: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        ack = functools.partial(client.ack, msg.mid, msg.qos) if msg.qos > 0 else None
        try:
            topic = msg.topic
        except UnicodeDecodeError:
            topic = msg._topic.decode(errors="replace")
        if self.record_levels_only and topic[topic.rfind("/") + 1 :] not in RECORD_LEVELS:
            self.ignored += 1
            if ack is not None:
                ack()
            return
        raw = RawMessage(
            self.name, msg.payload, topic, bool(msg.dup or msg.retain), time.time_ns(), ack
        )
        put(self.intake, raw, self._stopping)
