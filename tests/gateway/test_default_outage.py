"""Issue 14 item 1: with the default settings, a gateway killed (-9) mid-run loses nothing.

The live twin (``twin sim``'s MQTT defaults), the broker configured with the queue settings of
``deploy/mosquitto.conf`` and the gateway with its defaults (only endpoints and folders given)
run a paced plant; the gateway is killed while records flow, stays down while more are
published, and is started again. Every record the plant emitted is stored exactly once.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.gateway import helpers as h
from tests.gateway.live_plant import LivePlant
from tests.servers.influxdb import InfluxServer
from tests.servers.mosquitto import Mosquitto

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
DEPLOY_CONF = ROOT / "deploy" / "mosquitto.conf"


def deploy_queue_settings() -> list[str]:
    """The queue and persistence lines of the demo's broker config (the fixture sets paths)."""
    text = DEPLOY_CONF.read_text()
    block = text.split("# BEGIN queue settings", 1)[1].split("# END queue settings", 1)[0]
    lines = [ln.strip() for ln in block.splitlines()[1:] if ln.strip()]
    return [ln for ln in lines if not ln.startswith("persistence_location")]


def start_gateway(tmp: Path, influx: InfluxServer, db: str, broker: Mosquitto) -> subprocess.Popen:
    """``twin gateway`` with its defaults: only the endpoints, database and data folder given."""
    log = (tmp / "gateway.log").open("ab")
    args = ["--influx-url", influx.url, "--influx-database", db, "--mqtt-url", broker.url]
    return subprocess.Popen(
        [sys.executable, "-m", "gateway", *args, "--data-dir", str(tmp / "gw")],
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )


def test_gateway_killed_mid_run_with_default_settings_loses_nothing(
    tmp_path: Path, influxd: InfluxServer, influx_db: str, mosquitto_factory: object
) -> None:
    broker = mosquitto_factory(extra_conf=deploy_queue_settings())  # type: ignore[operator]
    log = tmp_path / "gateway.log"
    proc = start_gateway(tmp_path, influxd, influx_db, broker)
    h.wait_until(lambda: log.exists() and b"MQTT connected" in log.read_bytes(), 60, "gateway")
    plant = LivePlant(None, broker.url, until_s=10 * 3600, speed=1500, qos_samples=None)
    try:
        plant.serve()
        plant.run()
        h.wait_until(lambda: h.count_stored(influxd, influx_db) > 800, 60, "records stored")
        proc.send_signal(signal.SIGKILL)  # messages in flight, unacknowledged, some committed
        proc.wait(10)
        down_until = time.monotonic() + 4.0  # the plant publishes on meanwhile
        h.wait_until(lambda: time.monotonic() > down_until, 10, "the outage")
        assert not plant.done.is_set(), "the outage must fall inside the run"
        proc = start_gateway(tmp_path, influxd, influx_db, broker)
        plant.wait(180)
        truth = plant.truth
        h.wait_stored(influxd, influx_db, len(truth), timeout_s=120)
        time.sleep(1.0)  # nothing more may arrive: no duplicate on top
        h.assert_same_records(truth, h.read_stored(influxd, influx_db, truth[0].run_id))
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    assert proc.returncode == 0, log.read_text()[-2000:]


def test_messages_the_broker_drops_are_logged_and_counted_by_the_gateway(
    tmp_path: Path,
    influxd: InfluxServer,
    influx_db: str,
    mosquitto_factory: object,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Loss the defaults cannot prevent (a broker queue limit reached) is made visible."""
    broker = mosquitto_factory(extra_conf=["max_queued_messages 5", "sys_interval 1"])  # type: ignore[operator]
    cfg = h.settings(tmp_path, influxd, influx_db, mqtt_url=broker.url)
    h.start_gateway(cfg).stop()  # the persistent session exists; the gateway is away
    records = h.run_log(3600)
    run_id, start = h.envelope(records)
    pub = h.connect_publisher(broker.port)
    h.publish(pub, records[:60], run_id, start, qos=1)  # the broker keeps 5 for the session
    pub.disconnect()
    caplog.set_level(logging.WARNING, "gateway.sources.mqtt")
    gw = h.start_gateway(cfg)
    try:
        h.wait_until(lambda: "has dropped" in caplog.text, 20, "the drop warning")
        gw.report_metrics(log=False)
        assert gw.stats.snapshot()["gateway"]["broker_dropped"] >= 60 - 5
    finally:
        gw.stop()
