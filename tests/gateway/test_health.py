"""The gateway's healthcheck against a real InfluxDB: fresh metrics and a draining buffer."""

from __future__ import annotations

import time

import httpx
import pytest

from gateway.health import main
from plant_sim.telemetry_schema import metrics_line
from tests.servers.influxdb import InfluxServer

pytestmark = pytest.mark.integration


def _write(influxd: InfluxServer, db: str, ago_s: float, buffered: int, batches: int) -> None:
    ts_ms = int((time.time() - ago_s) * 1000)
    line = metrics_line("gw", "gateway", {"buffered": buffered, "batches": batches}, ts_ms)
    resp = httpx.post(f"{influxd.url}/write", params={"db": db}, content=line)
    resp.raise_for_status()


@pytest.fixture
def env(influxd: InfluxServer, influx_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWIN_INFLUX_URL", influxd.url)
    monkeypatch.setenv("TWIN_INFLUX_DATABASE", influx_db)


def test_no_metrics_is_unhealthy(env: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--max-age", "30"]) == 1
    assert "no gateway_stats point in the last 30 s" in capsys.readouterr().err


def test_old_metrics_are_unhealthy(env: None, influxd: InfluxServer, influx_db: str) -> None:
    _write(influxd, influx_db, ago_s=120, buffered=0, batches=5)
    assert main(["--max-age", "30"]) == 1


def test_fresh_metrics_with_an_empty_buffer_are_healthy(
    env: None, influxd: InfluxServer, influx_db: str
) -> None:
    _write(influxd, influx_db, ago_s=20, buffered=0, batches=5)
    _write(influxd, influx_db, ago_s=1, buffered=0, batches=5)
    assert main(["--max-age", "30"]) == 0


def test_a_draining_buffer_is_healthy_a_stuck_one_is_not(
    env: None, influxd: InfluxServer, influx_db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _write(influxd, influx_db, ago_s=20, buffered=500, batches=5)
    _write(influxd, influx_db, ago_s=1, buffered=400, batches=5)
    assert main(["--max-age", "30"]) == 1
    assert "400 records buffered and no batch written" in capsys.readouterr().err
    _write(influxd, influx_db, ago_s=0.5, buffered=300, batches=6)
    assert main(["--max-age", "30"]) == 0
