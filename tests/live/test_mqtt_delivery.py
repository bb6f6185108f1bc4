"""The publisher's delivery accounting on the real broker (paho through ``twin_io.mqtt``).

``drain`` must mean delivered (QoS 0 messages written too) and ``stats.acked`` must count the
QoS 1 messages the broker acknowledged, read from paho's public ``MQTTMessageInfo``.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from plant_sim import payloads
from plant_sim.live.layout import PlantLayout
from plant_sim.live.mqtt_publisher import MqttPublisher, MqttSettings
from plant_sim.scenario import Scenario
from plant_sim.simulation import run_batch
from tests.live.helpers import Subscriber, async_wait_until
from tests.servers.mosquitto import Mosquitto

pytestmark = pytest.mark.integration


async def test_drain_means_delivered_qos0_too_and_acked_counts_qos1(
    bottling: Scenario, mosquitto_factory: Callable[..., Mosquitto]
) -> None:
    broker = mosquitto_factory(extra_conf=["max_queued_messages 0"])
    sub = Subscriber(broker.port, [("acme/plant1/bottling/+/#", 1)]).start()
    records = [r for r in run_batch(bottling, 7 * 3600, seed=2).records if r.t >= 6 * 3600]
    qos = [payloads.route(r, "acme", "plant1", "bottling")[2] for r in records]
    assert 0 in qos and 1 in qos
    pub = MqttPublisher(
        PlantLayout.from_scenario(bottling), MqttSettings(url=broker.url, qos_samples=0)
    )
    await pub.start()
    try:
        await pub.publish(records)
        assert await pub.drain(30)
        assert pub.pending() == 0 and not pub._busy()
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
