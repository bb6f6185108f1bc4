"""Settings objects never show a password or token in their ``repr`` (logs, tracebacks)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.health import InfluxAccess as GatewayInflux
from plant_sim.live.mqtt_publisher import MqttSettings
from plant_sim.live.sparkplug_sink import SparkplugSettings
from twin.demo.servers import InfluxAccess as DemoInflux
from twin.demo.stack import DemoOptions
from twin_io.mqtt import MqttOptions

SECRET = "s3cr3t-value"
URL = f"mqtt://alice:{SECRET}@broker.example:1883"


@pytest.mark.parametrize("cls", [MqttOptions, MqttSettings, SparkplugSettings])
def test_broker_settings_redact_the_url_password_and_hide_the_password(cls: type) -> None:
    settings = cls(url=URL, username="bob", password=SECRET)
    text = repr(settings)
    assert SECRET not in text
    assert "mqtt://alice:***@broker.example:1883" in text
    assert "username='bob'" in text
    assert text.startswith(f"{cls.__name__}(")


def test_subclass_fields_stay_in_the_repr() -> None:
    text = repr(SparkplugSettings(url=URL, group="plant_a"))
    assert "group='plant_a'" in text and "client_id=" in text


def test_influx_and_demo_settings_hide_tokens_and_passwords(tmp_path: Path) -> None:
    objects = [
        GatewayInflux(token=SECRET, username="bob", password=SECRET),
        DemoInflux(url="http://localhost:8086", database="twin", token=SECRET),
        DemoOptions(tmp_path / "s.yaml", tmp_path, mqtt_url=URL, influx_token=SECRET),
    ]
    for obj in objects:
        assert SECRET not in repr(obj), type(obj).__name__
    assert "username='bob'" in repr(objects[0])


@pytest.mark.parametrize(
    "text,shown",
    [
        ("mqtt://alice:pw@host:1883", "mqtt://alice:***@host:1883"),
        ("http://u:p@ss@db:8086/ping", "http://u:***@db:8086/ping"),  # "@" in the password
        ("http://db:8086/ping", "http://db:8086/ping"),  # no user: nothing to hide
        ("mqtt://bob@host", "mqtt://bob@host"),  # a user without a password
        ("x http://a:b@h/q, mqtts://c:d@e y", "x http://a:***@h/q, mqtts://c:***@e y"),
    ],
)
def test_hide_passwords_hides_every_url_password_in_a_message(text: str, shown: str) -> None:
    from twin_io.urls import hide_passwords

    assert hide_passwords(text) == shown
