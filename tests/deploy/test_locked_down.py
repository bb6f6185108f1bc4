"""The locked-down configuration refuses what it should (docs/security.md).

MQTT: the real Mosquitto with deploy/secure/mosquitto.conf's security lines, its ACL and a
password file written by deploy/secure/make-passwords.sh. OPC UA: the twin's server with users
and encryption only (no NoSecurity endpoint, no anonymous session).
"""

from __future__ import annotations

import logging
import os
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from asyncua import Client, ua

from plant_sim.live.layout import PlantLayout
from plant_sim.live.opcua_server import OpcUaSettings, TwinOpcUaServer
from plant_sim.scenario import load_scenario
from tests.servers.influxdb import free_port
from tests.servers.mosquitto import Mosquitto

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
SECURE = ROOT / "deploy" / "secure"
PASSWORDS = {"twin": "tw-pw", "gateway": "gw-pw", "operator": "op-pw", "viewer": "vw-pw"}
PREFIX = "acme/plant1/bottling"
CMD = f"{PREFIX}/_plant/cmd"
DATA = f"{PREFIX}/line1/filler/state"


@pytest.fixture
def secure_broker(tmp_path: Path, mosquitto_factory: Callable[..., Mosquitto]) -> Mosquitto:
    passwd = tmp_path / "passwd"
    env = dict(os.environ, **{f"TWIN_MQTT_PASSWORD_{u.upper()}": p for u, p in PASSWORDS.items()})
    subprocess.run(
        ["sh", str(SECURE / "make-passwords.sh"), str(passwd)], env=env, check=True, timeout=60
    )
    lines = []
    for line in (SECURE / "mosquitto.conf").read_text().splitlines():
        key = line.split(" ", 1)[0]
        if key == "allow_anonymous":
            lines.append(line)
        elif key == "password_file":
            lines.append(f"password_file {passwd}")
        elif key == "acl_file":
            lines.append(f"acl_file {SECURE / 'mosquitto.acl'}")
    assert len(lines) == 3, "the secure config lost a security line"
    return mosquitto_factory(extra_conf=lines)


class Peer:
    """A paho client that records what it receives and waits for its acks."""

    def __init__(self, port: int, user: str | None, password: str | None = None) -> None:
        self.received: list[tuple[str, bytes]] = []
        self.reason: mqtt.ReasonCode | None = None
        self._connected = threading.Event()
        self._subscribed = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"t-{user}")
        if user is not None:
            self.client.username_pw_set(user, password)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *a: self._subscribed.set()
        self.client.on_message = lambda _c, _u, m: self.received.append((m.topic, m.payload))
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert self._connected.wait(10), "no CONNACK"

    def _on_connect(
        self, _c: object, _u: object, _f: object, reason: mqtt.ReasonCode, _p: object
    ) -> None:
        self.reason = reason
        self._connected.set()

    @property
    def accepted(self) -> bool:
        return self.reason is not None and not self.reason.is_failure

    def subscribe(self, topic: str) -> None:
        self.client.subscribe(topic, 1)
        assert self._subscribed.wait(10)

    def publish(self, topic: str, payload: bytes) -> None:
        """Publish at QoS 1 and wait for the broker's ack (it has routed it, or dropped it)."""
        self.client.publish(topic, payload, 1).wait_for_publish(10)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_mqtt_refuses_anonymous_and_wrong_users_and_applies_the_acl(
    secure_broker: Mosquitto,
) -> None:
    port = secure_broker.port
    for user, password in ((None, None), ("twin", "wrong"), ("intruder", "x")):
        peer = Peer(port, user, password)
        assert not peer.accepted, f"{user} was let in"
        peer.close()
    twin = Peer(port, "twin", PASSWORDS["twin"])
    viewer = Peer(port, "viewer", PASSWORDS["viewer"])
    gateway = Peer(port, "gateway", PASSWORDS["gateway"])
    operator = Peer(port, "operator", PASSWORDS["operator"])
    peers = [twin, viewer, gateway, operator]
    try:
        assert all(p.accepted for p in peers)
        twin.subscribe("#")
        viewer.subscribe("#")
        gateway.publish(DATA, b"from the gateway")  # may not write
        viewer.publish(CMD, b"from the viewer")  # may not send commands
        twin.publish(DATA, b"from the twin")
        operator.publish(CMD, b"from the operator")  # acked after the others were routed

        def got_last(peer: Peer) -> Callable[[], bool]:
            return lambda: (CMD, b"from the operator") in peer.received

        for peer in (twin, viewer):
            _wait(got_last(peer), "the operator's command")
        assert twin.received == [(CMD, b"from the operator")]  # reads commands only
        assert viewer.received == [(DATA, b"from the twin"), (CMD, b"from the operator")]
    finally:
        for p in peers:
            p.close()


def _wait(check: Callable[[], bool], what: str, timeout_s: float = 10.0) -> None:
    done = threading.Event()
    for _ in range(int(timeout_s / 0.05)):
        if check():
            return
        done.wait(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def test_opcua_encrypt_only_with_users_offers_no_plain_endpoint(tmp_path: Path) -> None:
    url = f"opc.tcp://127.0.0.1:{free_port()}/twin/"
    settings = OpcUaSettings(
        endpoint=url,
        users={"operator": "op-pw"},
        allow_anonymous=False,
        encrypt=True,
        allow_unencrypted=False,
        cert_dir=tmp_path / "pki",
    )
    layout = PlantLayout.from_scenario(load_scenario(ROOT / "scenarios" / "bottling_line.yaml"))
    async with TwinOpcUaServer(layout, settings):
        endpoints = await Client(url).connect_and_get_server_endpoints()
        assert endpoints
        assert {e.SecurityMode for e in endpoints} == {ua.MessageSecurityMode.SignAndEncrypt}
        assert all(e.SecurityPolicyUri.endswith("Basic256Sha256") for e in endpoints)
        tokens = {t.TokenType for e in endpoints for t in e.UserIdentityTokens}
        assert tokens == {ua.UserTokenType.UserName}  # no anonymous token offered
        with pytest.raises(ua.UaError):
            async with Client(url):  # NoSecurity + anonymous: refused
                pass


async def test_a_plain_endpoint_with_passwords_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="plant_sim.live.opcua_server")
    url = f"opc.tcp://127.0.0.1:{free_port()}/twin/"
    layout = PlantLayout.from_scenario(load_scenario(ROOT / "scenarios" / "bottling_line.yaml"))
    async with TwinOpcUaServer(layout, OpcUaSettings(endpoint=url, users={"op": "pw"})):
        pass
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("plain text" in w for w in warnings), warnings
    infos = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert any("anonymous clients may call the methods" in m for m in infos)
