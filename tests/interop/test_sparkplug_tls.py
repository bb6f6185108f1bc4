"""Sparkplug edge nodes take the same ``--mqtt-*`` TLS, user and password options as the UNS
publisher (issue 16): a Mosquitto with a TLS-only listener, client certificates and passwords
(the broker of the issue 14 TLS tests)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import threading
from pathlib import Path

import pytest

from plant_sim.live.layout import PlantLayout
from plant_sim.live.sparkplug_sink import SparkplugSettings, SparkplugSink
from plant_sim.scenario import Scenario
from tests.gateway.test_mqtt_tls import PASSWORD, USER, tls_broker, tls_url  # noqa: F401
from tests.interop.sparkplug_helpers import twin_sim_argv
from tests.live.helpers import wait_until
from tests.servers.mosquitto import Mosquitto
from tests.servers.tls import Pki
from twin_io.mqtt import MqttOptions, make_client

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def tls_options(pki: Pki) -> dict[str, object]:
    return {
        "username": USER,
        "password": PASSWORD,
        "ca_file": pki.ca,
        "cert_file": pki.client_cert,
        "key_file": pki.client_key,
    }


class TlsCapture:
    """A subscriber over TLS with a client certificate and password (the project's client)."""

    def __init__(self, url: str, pki: Pki) -> None:
        self.kinds: list[str] = []
        self.client = make_client(
            MqttOptions(url=url, **tls_options(pki)), "spb-tls-capture", clean_session=True
        )
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *_a: subscribed.set()
        self.client.on_message = lambda _c, _u, m: self.kinds.append(m.topic.split("/")[2])
        options = MqttOptions(url=url)
        self.client.connect(options.host, options.port)
        self.client.loop_start()
        self.client.subscribe("spBv1.0/+/+/line1/#", qos=1)
        self.client.subscribe("spBv1.0/+/+/line1", qos=1)
        assert subscribed.wait(10)

    def stop(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def test_twin_sim_sparkplug_over_mqtts_with_client_certificates_and_passwords(
    tls_broker: tuple[Mosquitto, Pki],  # noqa: F811
) -> None:
    """``twin sim --mqtt-format sparkplug`` with ``--mqtt-username``, ``--mqtt-password`` (from
    TWIN_MQTT_PASSWORD), ``--mqtt-ca-file``, ``--mqtt-cert-file``, ``--mqtt-key-file``: births,
    data, and the NDEATH of its shutdown arrive; the password is never printed."""
    broker, pki = tls_broker
    capture = TlsCapture(tls_url(broker), pki)
    argv = twin_sim_argv(
        "--speed",
        "100000",
        "--until",
        "7h",
        "--mqtt-url",
        tls_url(broker),
        "--mqtt-username",
        USER,
        "--mqtt-ca-file",
        str(pki.ca),
        "--mqtt-cert-file",
        str(pki.client_cert),
        "--mqtt-key-file",
        str(pki.client_key),
    )
    env = {**os.environ, "TWIN_MQTT_PASSWORD": PASSWORD}
    try:
        done = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
        assert done.returncode == 0, done.stderr[-2000:]
        assert PASSWORD not in done.stdout + done.stderr
        wait_until(lambda: "NDEATH" in capture.kinds, 30, "the NDEATH of the shutdown")
    finally:
        capture.stop()
    kinds = capture.kinds
    assert kinds[0] == "NBIRTH" and kinds[1:7] == ["DBIRTH"] * 6
    assert "DDATA" in kinds and kinds[-1] == "NDEATH"


@pytest.mark.parametrize(
    ("what", "change"),
    [
        ("no client certificate", {"cert_file": None, "key_file": None}),
        ("a wrong password", {"password": "wrong"}),
    ],
)
def test_sparkplug_edge_nodes_are_refused_without_their_credentials(
    tls_broker: tuple[Mosquitto, Pki],  # noqa: F811
    bottling: Scenario,
    caplog: pytest.LogCaptureFixture,
    what: str,
    change: dict[str, object],
) -> None:
    broker, pki = tls_broker
    settings = SparkplugSettings(
        url=tls_url(broker),
        connect_timeout_s=5,
        **{**tls_options(pki), **change},  # type: ignore[arg-type]
    )
    sink = SparkplugSink(PlantLayout.from_scenario(bottling), settings)

    async def attempt() -> bool:
        await sink.start()
        try:
            return sink.links["line1"].net.connected.is_set()
        finally:
            await sink.stop()

    assert not asyncio.run(attempt()), what
    assert f"{tls_url(broker)} not connected yet" in caplog.text
    assert PASSWORD not in caplog.text and "wrong" not in caplog.text
