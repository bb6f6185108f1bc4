"""Sparkplug B source: the gateway as a Sparkplug host application (``mqtt_format=sparkplug``).

The MQTT source (persistent session, acknowledgement after commit) subscribed to ``spBv1.0/#``,
with every message read by ``gateway.sparkplug_host`` before the intake: the twin records that
NDATA/DDATA carry in the ``Twin/Record`` metric (its UNS JSON payloads with ``n``) go on to the
normalizer, so storage, the record identity and the KPIs are those of the UNS path; a message
the host cannot accept is a dead letter with the reason; a ``seq`` gap, an unknown alias or data
before a birth is answered with an NCMD ``Node Control/Rebirth`` to that edge node.
With ``sparkplug_mapping`` the metrics of the foreign edge nodes it names become records too
(``gateway.sparkplug_map``), numbered in their run, on the path of the mapped MQTT intake.

With ``sparkplug_host_id`` the gateway is a (primary) host application: it registers
``spBv1.0/STATE/{host_id}`` ``{"online": false, "timestamp": t}`` as its MQTT will, publishes
``{"online": true, "timestamp": t}`` (same ``t``, retained, QoS 1) on every connect and
``online: false`` when it stops (Sparkplug 3.0); each connection has its own ``t``. Edge
nodes told to wait for this host
(``twin sim --sparkplug-primary-host``) publish births only while it is online.
"""

from __future__ import annotations

import json
import logging
import queue
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from gateway.deadletter import DeadLetters
from gateway.normalize import RawMessage
from gateway.settings import GatewaySettings
from gateway.sources.mapped_intake import MappedIntake
from gateway.sources.mqtt import MqttSource
from gateway.sparkplug_host import (
    NAMESPACE,
    REBIRTH,
    Outcome,
    SparkplugHost,
    SparkplugTopic,
    parse_topic,
)
from gateway.sparkplug_map import SparkplugMapError, SparkplugTranslator, load_sparkplug_mapping
from gateway.stats import Stats
from plant_sim import payloads
from twin_io.sparkplug_payload import DataType, Payload, metric

logger = logging.getLogger(__name__)

TOPIC_FILTER = f"{NAMESPACE}/#"
STATE_WAIT_S = 2.0
"""How long a stop waits for the broker to acknowledge the offline STATE."""


def state_topic(host_id: str) -> str:
    """``spBv1.0/STATE/{host_id}``: the host application's STATE (Sparkplug 3.0)."""
    return f"{NAMESPACE}/STATE/{host_id}"


def state_payload(online: bool, timestamp_ms: int) -> bytes:
    """``{"online": ..., "timestamp": ...}``."""
    return json.dumps({"online": online, "timestamp": timestamp_ms}).encode()


def rebirth_request(timestamp_ms: int) -> bytes:
    """An NCMD payload writing ``Node Control/Rebirth`` true (by name: aliases may be unknown)."""
    payload = Payload(timestamp=timestamp_ms)
    payload.metrics.append(metric(0, DataType.BOOLEAN, True, timestamp_ms, REBIRTH))
    payload.metrics[0].ClearField("alias")
    return payload.SerializeToString()


class SparkplugIntake(MappedIntake):
    """The intake seen through the host application: Sparkplug messages -> twin records."""

    def __init__(
        self,
        intake: queue.Queue[RawMessage],
        host: SparkplugHost,
        dead_letters: DeadLetters,
        stats: Stats | None = None,
        mapped: SparkplugTranslator | None = None,
    ) -> None:
        super().__init__(intake, None, dead_letters)  # type: ignore[arg-type]
        self.host = host
        self.stats = stats
        self.mapped = mapped
        """Foreign edge nodes' metrics -> records (``sparkplug_mapping``), if set."""
        self.rebirths: deque[SparkplugTopic] = deque()
        """Edge nodes to ask for a rebirth (the source's network thread sends the NCMDs)."""

    def _translate(self, raw: RawMessage) -> list[RawMessage]:
        outcome = self.host.handle(raw.topic or "", raw.payload)
        if outcome.rebirth is not None:
            self.rebirths.append(outcome.rebirth)
        reason = outcome.reason
        records = outcome.records
        if outcome.values and self.mapped is not None:
            try:
                records = records + self._mapped_records(raw, outcome)
            except SparkplugMapError as exc:
                reason = f"sparkplug_mapping: {exc}"
        if reason is not None:
            self.dead_letters.add(raw.source, raw.topic, reason, raw.payload)
            self.dead_letters.flush()
            self.dead_lettered += 1
            if self.stats is not None:
                self.stats.add(raw.source, "dead_lettered")
            logger.warning("dead letter: %s", reason)
        if not records:
            if raw.ack is not None:
                raw.ack()
            return []
        out = [
            RawMessage(raw.source, record, None, raw.maybe_dup, raw.received_ns)
            for record in records
        ]
        out[-1].ack = raw.ack
        return out

    def _mapped_records(self, raw: RawMessage, outcome: Outcome) -> list[bytes]:
        """The records a mapped foreign device's values give, numbered in the run."""
        mapped = self.mapped
        assert mapped is not None
        where = parse_topic(raw.topic or "")
        received_ms = (raw.received_ns or time.time_ns()) // 1_000_000
        key = (where.group, where.edge_node, where.device)
        records = mapped.translate(key, outcome.values, received_ms)
        run = mapped.records
        if not records or run is None:
            return []
        return [
            payloads.encode(rec, run.run_id, run.start_epoch_ms, n)
            for rec, n in zip(records, mapped.number(records), strict=True)
        ]


class SparkplugSource(MqttSource):
    """The MQTT source as a Sparkplug host application (see the module docstring)."""

    def __init__(
        self,
        settings: GatewaySettings,
        intake: queue.Queue[RawMessage],
        dead_letters: DeadLetters,
        births_path: Path,
        stats: Stats | None = None,
    ) -> None:
        if settings.mqtt_topics == ["#"]:  # the Sparkplug namespace, not the whole broker
            settings = settings.model_copy(update={"mqtt_topics": [TOPIC_FILTER]})
        mapped = None
        if settings.sparkplug_mapping is not None:
            mapping = load_sparkplug_mapping(settings.sparkplug_mapping)
            mapped = SparkplugTranslator(mapping, settings.mqtt_url or "")
        watch = None if mapped is None else _watch(mapped)
        self.host = SparkplugHost(births_path, watch=watch)
        self.front = SparkplugIntake(intake, self.host, dead_letters, stats, mapped)
        super().__init__(settings, self.front)  # type: ignore[arg-type]
        self.record_levels_only = False
        self.host_id = settings.sparkplug_host_id
        self._outbox: deque[tuple[str, bytes, int, bool]] = deque()
        self._state_sent: mqtt.MQTTMessageInfo | None = None
        self._state_ts = 0
        self._set_will(self.loop.client)

    def _set_will(self, client: mqtt.Client) -> None:
        """Before each connect: the will (STATE offline) with this session's timestamp."""
        if self.host_id is not None:
            self._state_ts = max(int(time.time() * 1000), self._state_ts + 1)
            client.will_set(
                state_topic(self.host_id), state_payload(False, self._state_ts), qos=1, retain=True
            )

    def stop(self) -> None:
        """Publish STATE offline (with a host id) and wait for the broker's PUBACK (up to
        ``STATE_WAIT_S``; a DISCONNECT right behind the PUBLISH can make Mosquitto 2.0.11 drop
        the connection as unclean and publish the will too), then stop as the MQTT source does."""
        if self.host_id is not None and self.connected.is_set():
            self._state_sent = None
            self._outbox.append(
                (state_topic(self.host_id), state_payload(False, self._state_ts), 1, True)
            )
            deadline = time.monotonic() + STATE_WAIT_S
            while time.monotonic() < deadline and self.connected.is_set():
                sent = self._state_sent
                if sent is not None and sent.is_published():
                    break
                time.sleep(0.01)
        super().stop()

    def _turn(self, client: mqtt.Client) -> bool:
        busy = super()._turn(client)
        rebirths = self.front.rebirths
        while rebirths:
            node = rebirths.popleft()
            topic = f"{NAMESPACE}/{node.group}/NCMD/{node.edge_node}"
            self._outbox.append((topic, rebirth_request(int(time.time() * 1000)), 0, False))
            logger.info("Sparkplug: rebirth requested from %s", node.node_key)
        outbox = self._outbox
        while outbox:
            topic, payload, qos, retain = outbox.popleft()
            info = client.publish(topic, payload, qos=qos, retain=retain)
            if retain:  # the STATE (the only retained message)
                self._state_sent = info
            busy = True
        return busy

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any = None
    ) -> None:
        super()._on_connect(client, userdata, flags, reason, props)
        if self.host_id is not None and not reason.is_failure:
            client.publish(
                state_topic(self.host_id), state_payload(True, self._state_ts), qos=1, retain=True
            )
            logger.info("Sparkplug host application %s: STATE online", self.host_id)

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any = None
    ) -> None:
        super()._on_disconnect(client, userdata, flags, reason, props)
        self._set_will(client)  # the next session's STATE carries a new timestamp


def _watch(mapped: SparkplugTranslator) -> Callable[[SparkplugTopic], bool]:
    """The host's test whether a node's or device's values go to the mapping."""

    def watch(where: SparkplugTopic) -> bool:
        return mapped.maps((where.group, where.edge_node, where.device))

    return watch
