"""Issue 14 item 13: TLS (CA file, client certificate) and user/password on every MQTT client.

Mosquitto listens with TLS only, asks for a client certificate signed by a CA made in the test
and for a user and password. The twin's publisher and the gateway connect with the same option
names and store a run exactly once; a client without a certificate, with a wrong password or
without the CA is refused, and no message shows the password.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.errors import SourceError
from plant_sim.live.layout import PlantLayout
from plant_sim.live.mqtt_publisher import MqttError, MqttPublisher, MqttSettings
from plant_sim.records import Record
from plant_sim.scenario import load_scenario
from tests.gateway import helpers as h
from tests.servers.influxdb import InfluxServer
from tests.servers.mosquitto import Mosquitto
from tests.servers.tls import Pki, make_pki
from twin_io.mqtt import MqttConfigError, MqttOptions

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
USER, PASSWORD = "twin", "s3cret-Pw-123"


@pytest.fixture
def tls_broker(
    tmp_path: Path, mosquitto_factory: Callable[..., Mosquitto]
) -> tuple[Mosquitto, Pki]:
    """A broker with a TLS listener, client certificates required, users with passwords."""
    passwd = shutil.which("mosquitto_passwd")
    if passwd is None:
        pytest.skip("mosquitto_passwd is not installed")
    pki = make_pki(tmp_path / "pki")
    password_file = tmp_path / "passwd"
    subprocess.run([passwd, "-b", "-c", str(password_file), USER, PASSWORD], check=True)
    broker = mosquitto_factory(
        extra_conf=[
            f"cafile {pki.ca}",
            f"certfile {pki.server_cert}",
            f"keyfile {pki.server_key}",
            "require_certificate true",
            f"password_file {password_file}",
            "allow_anonymous false",
        ]
    )
    return broker, pki


def tls_url(broker: Mosquitto) -> str:
    return f"mqtts://127.0.0.1:{broker.port}"


async def publish_run(settings: MqttSettings, records: list[Record]) -> None:
    scenario = load_scenario(ROOT / "scenarios" / "bottling_line.yaml")
    run_id, start_ms = h.envelope(records)
    pub = MqttPublisher(PlantLayout.from_scenario(scenario), settings)
    pub.set_run(run_id, start_ms)
    await pub.start()
    try:
        await pub.publish(records)
        assert await pub.drain(60)
    finally:
        await pub.stop()
    assert pub.stats.undelivered == 0


def test_twin_and_gateway_over_mqtts_with_client_certificates_and_passwords(
    tmp_path: Path, influxd: InfluxServer, influx_db: str, tls_broker: tuple[Mosquitto, Pki]
) -> None:
    broker, pki = tls_broker
    url = tls_url(broker)
    tls = {"ca_file": pki.ca, "cert_file": pki.client_cert, "key_file": pki.client_key}
    cfg = h.settings(
        tmp_path,
        influxd,
        influx_db,
        mqtt_url=url,
        mqtt_username=USER,
        mqtt_password=PASSWORD,
        **{f"mqtt_{k}": v for k, v in tls.items()},
    )
    gw = h.start_gateway(cfg)
    try:
        assert gw.sources[0].subscribed.is_set()
        records = h.run_log(2 * 3600)
        settings = MqttSettings(
            url=url, username=USER, password=PASSWORD, require_broker=True, **tls
        )
        asyncio.run(publish_run(settings, records))
        h.wait_stored(influxd, influx_db, len(records))
        h.assert_same_records(records, h.read_stored(influxd, influx_db, records[0].run_id))
    finally:
        gw.stop()


@pytest.mark.parametrize(
    ("what", "change"),
    [
        ("no client certificate", {"cert_file": None, "key_file": None}),
        ("a wrong password", {"password": "wrong"}),
        ("no CA: the system's CAs do not know the broker", {"ca_file": None}),
    ],
)
def test_clients_are_refused_without_their_credentials(
    tmp_path: Path,
    influxd: InfluxServer,
    influx_db: str,
    tls_broker: tuple[Mosquitto, Pki],
    what: str,
    change: dict[str, object],
) -> None:
    broker, pki = tls_broker
    given: dict[str, object] = {
        "username": USER,
        "password": PASSWORD,
        "ca_file": pki.ca,
        "cert_file": pki.client_cert,
        "key_file": pki.client_key,
        **change,
    }
    settings = MqttSettings(url=tls_url(broker), require_broker=True, connect_timeout_s=3, **given)
    with pytest.raises(MqttError) as twin_error:
        asyncio.run(publish_run(settings, h.run_log(600)))
    cfg = h.settings(
        tmp_path,
        influxd,
        influx_db,
        mqtt_url=tls_url(broker),
        **{f"mqtt_{k}": v for k, v in given.items()},
    )
    with pytest.raises(SourceError) as gateway_error:
        h.start_gateway(cfg)
    for exc in (twin_error.value, gateway_error.value):
        assert "unreachable" in str(exc) or "refused" in str(exc) or "mqtts://" in str(exc), what
        assert PASSWORD not in str(exc) and "wrong" not in str(exc)


def test_bad_options_name_the_option_and_never_print_the_password(tmp_path: Path) -> None:
    secret = "pa55-Secret"
    for argv in (
        ["gateway", "--influx-url", "http://127.0.0.1:9", "--mqtt-url", f"mqtts://u:{secret}@h:x"],
        ["gateway", "--influx-url", "http://127.0.0.1:9", "--mqtt-url", f"ftp://u:{secret}@h"],
        ["sim", "scenarios/bottling_line.yaml", "--mqtt-url", f"mqtts://u:{secret}@h:x"],
        [
            "sim",
            "scenarios/bottling_line.yaml",
            "--mqtt-url",
            f"mqtt://u:{secret}@h",
            "--mqtt-ca-file",
            str(tmp_path / "missing.pem"),
        ],
    ):
        done = subprocess.run(
            [sys.executable, "-m", "twin", *argv], capture_output=True, text=True, cwd=ROOT
        )
        out = done.stdout + done.stderr
        assert done.returncode == 2, out
        assert "mqtt" in out.lower() and secret not in out, out


@pytest.mark.parametrize("url", ["mqtt://127.0.0.1:0", "mqtts://h:0", "mqtt://h:70000"])
def test_port_0_is_a_bad_port_not_the_default(url: str) -> None:
    """``mqtt://host:0`` connected to 1883 (8883) without a word; now it is refused."""
    with pytest.raises(MqttConfigError, match="bad port"):
        MqttOptions(url=url)
