"""What the MQTT publisher relies on in paho-mqtt, checked against the installed version.

The publisher drives paho through its external-loop API and reads one private attribute,
``Client._out_messages`` (QoS>0 messages not yet acknowledged). If a paho release changes
that, these tests say so before a run miscounts or loses its back-pressure.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import paho.mqtt.client as mqtt
import pytest

from plant_sim import payloads
from plant_sim.live.layout import PlantLayout
from plant_sim.live.mqtt_publisher import MqttPublisher, MqttSettings, _pump
from plant_sim.scenario import Scenario
from plant_sim.simulation import run_batch
from tests.live.helpers import Subscriber, async_wait_until, wait_until
from tests.servers.mosquitto import Mosquitto

pytestmark = pytest.mark.integration


def test_paho_queues_until_loop_write_and_holds_qos1_until_acked(mosquitto: Mosquitto) -> None:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="paho-contract")
    client.on_socket_register_write = lambda *a: None
    client.on_socket_unregister_write = lambda *a: None
    client.connect(mosquitto.host, mosquitto.port)
    try:
        wait_until(lambda: _pump(client, 0.01) == 0 and client.is_connected(), 5, "CONNACK")
        assert isinstance(client._out_messages, dict)
        infos = [client.publish("paho/contract", b"x", qos, False) for qos in (1, 0, 1)]
        assert all(i.rc == mqtt.MQTT_ERR_SUCCESS for i in infos)
        # with a register-write callback, publish() queues and writes nothing itself
        assert client.want_write()
        assert not any(i.is_published() for i in infos)
        assert len(client._out_messages) == 2  # the QoS 1 ones, until the broker acks them
        assert client.loop_write() == mqtt.MQTT_ERR_SUCCESS
        assert not client.want_write()
        assert infos[1].is_published()  # QoS 0: written
        wait_until(lambda: _pump(client, 0.01) == 0 and not client._out_messages, 5, "PUBACKs")
        assert infos[0].is_published() and infos[2].is_published()
    finally:
        client.disconnect()
        with contextlib.suppress(Exception):
            while _pump(client, 0.01) == mqtt.MQTT_ERR_SUCCESS:
                pass


async def test_drain_means_delivered_qos0_too_and_acked_counts_qos1(
    bottling: Scenario, mosquitto_factory: Callable[..., Mosquitto]
) -> None:
    broker = mosquitto_factory(extra_conf=["max_queued_messages 0"])
    sub = Subscriber(broker.port, [("acme/plant1/bottling/+/#", 1)]).start()
    records = [r for r in run_batch(bottling, 7 * 3600, seed=2).records if r.t >= 6 * 3600]
    qos = [payloads.route(r, "acme", "plant1", "bottling")[2] for r in records]
    assert 0 in qos and 1 in qos
    pub = MqttPublisher(PlantLayout.from_scenario(bottling), MqttSettings(url=broker.url))
    await pub.start()
    try:
        await pub.publish(records)
        assert await pub.drain(30)
        assert pub.pending() == 0 and not pub._client.want_write()  # type: ignore[union-attr]
        assert pub.stats.published == len(records)
        assert pub.stats.acked == sum(q > 0 for q in qos) + 1  # and the online status
        assert pub.stats.dropped_qos0 == pub.stats.dropped_queue_full == 0
    finally:
        await pub.stop()

    def got() -> int:
        return sum(not m.topic.endswith("/status") for m in sub.snapshot())

    await async_wait_until(lambda: got() >= len(records), 10, "every message, QoS 0 ones too")
    sub.stop()
    assert got() == len(records)
