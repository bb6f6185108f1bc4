"""What the MQTT publisher relies on in paho-mqtt, checked against the installed version.

The publisher drives paho through its external-loop API, reads ``Client._out_messages`` (QoS>0
messages not yet acknowledged) and, for paho 2.2, handles MQTT 3.1.1 PUBACKs itself in place of
``Client._handle_pubackcomp``. If a paho release changes any of that, these tests say so
before a run miscounts, loses its back-pressure or acknowledges wrongly.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from plant_sim import payloads
from plant_sim.live import mqtt_publisher
from plant_sim.live.layout import PlantLayout
from plant_sim.live.mqtt_publisher import MqttPublisher, MqttSettings, _Client, _pump
from plant_sim.scenario import Scenario
from plant_sim.simulation import run_batch
from tests.live.helpers import Subscriber, async_wait_until, wait_until
from tests.servers.mosquitto import Mosquitto

pytestmark = pytest.mark.integration

# sha256 (first 16 hex digits) of the paho 2.2.0 methods _Client's PUBACK path stands in for
# or depends on; a paho release that changes one needs _Client._handle_pubackcomp reviewed
REVIEWED_2_2 = {
    "_handle_pubackcomp": "04d39ba283b1f3be",
    "_do_on_publish": "5bbcad6f9447107a",
    "_packet_read": "bbe32d8af1e37955",
}


def test_the_fast_puback_path_is_on_only_for_the_reviewed_paho() -> None:
    major_minor = tuple(int(x) for x in mqtt_publisher.paho_version.split(".")[:2])
    assert (major_minor == (2, 2)) == mqtt_publisher.FAST_PUBACK
    if not mqtt_publisher.FAST_PUBACK:
        pytest.skip(f"paho-mqtt {mqtt_publisher.paho_version}: stock PUBACK handling")
    for name, digest in REVIEWED_2_2.items():
        src = inspect.getsource(getattr(mqtt.Client, name))
        assert hashlib.sha256(src.encode()).hexdigest()[:16] == digest, (
            f"paho-mqtt {mqtt_publisher.paho_version} changed Client.{name}: review "
            "plant_sim.live.mqtt_publisher._Client._handle_pubackcomp against it"
        )


@pytest.mark.parametrize("client_class", [mqtt.Client, _Client], ids=["paho", "fast"])
def test_puback_handling_matches_paho(
    mosquitto: Mosquitto, client_class: type[mqtt.Client]
) -> None:
    client = client_class(mqtt.CallbackAPIVersion.VERSION2, client_id=f"puback-{client_class}")
    calls: list[tuple[int, Any, Any]] = []
    client.on_publish = lambda c, u, mid, rc, props: calls.append((mid, rc, props))
    client.connect(mosquitto.host, mosquitto.port)
    try:
        wait_until(lambda: _pump(client, 0.01) == 0 and client.is_connected(), 5, "CONNACK")
        infos = [client.publish("paho/puback", b"x", 1, False) for _ in range(50)]
        wait_until(lambda: _pump(client, 0.01) == 0 and not client._out_messages, 5, "PUBACKs")
        assert all(i.is_published() for i in infos)
        assert [mid for mid, _, _ in calls] == [i.mid for i in infos]
        assert all(rc == 0 and not rc.is_failure and rc.packetType == 4 for _, rc, _ in calls)
        assert all(p.packetType == 4 and not p.json() for _, _, p in calls)
        assert client._inflight_messages == 0
    finally:
        client.disconnect()
        with contextlib.suppress(Exception):
            while _pump(client, 0.01) == mqtt.MQTT_ERR_SUCCESS:
                pass


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
