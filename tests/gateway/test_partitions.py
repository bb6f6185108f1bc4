"""Partitioned gateway: topic filters, settings, and two gateway processes storing a log once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gateway.errors import SettingsError
from gateway.partitions import RUN_FILTER, PartitionedGateway, partition_settings
from gateway.settings import load_settings
from gateway.topic_filters import filter_problem, overlaps
from tests.gateway import helpers as h
from tests.procs import alive, children
from tests.servers.influxdb import InfluxServer
from tests.servers.mosquitto import Mosquitto
from twin.cli import main

BASE = {"influx_url": "http://x:8086", "mqtt_url": "mqtt://b"}


@pytest.mark.parametrize(
    ("topic_filter", "problem"),
    [
        ("a/#", None),
        ("+/b/+", None),
        ("#", None),
        ("", "empty"),
        ("a/#/b", "'#'"),
        ("a/b#", "'#'"),
        ("a/+b", "'+'"),
    ],
)
def test_filter_problem(topic_filter: str, problem: str | None) -> None:
    got = filter_problem(topic_filter)
    assert got is None if problem is None else problem in (got or "")


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("acme/#", RUN_FILTER, True),
        ("+/+/+/_plant/#", RUN_FILTER, True),
        ("+/+/+/line1/#", RUN_FILTER, False),
        ("acme/p/a/line1/+", RUN_FILTER, False),
        ("acme/p/a/_plant/run", RUN_FILTER, True),
        ("acme/p/a/_plant", RUN_FILTER, False),
        ("a/b", "a/b/#", True),
    ],
)
def test_overlaps(a: str, b: str, expected: bool) -> None:
    assert overlaps(a, b) is expected and overlaps(b, a) is expected


def test_each_partition_gets_its_session_buffer_name_and_the_run_topic() -> None:
    s = load_settings(
        None,
        **BASE,
        mqtt_client_id="gw",
        gateway_name="edge",
        data_dir=Path("/data"),
        mqtt_partitions=["+/+/+/_plant/#,+/+/+/line1/#", "+/+/+/line2/#"],
    )
    p0, p1 = partition_settings(s)
    assert p0.mqtt_topics == ["+/+/+/_plant/#", "+/+/+/line1/#"]  # reaches _plant/run already
    assert p1.mqtt_topics == ["+/+/+/line2/#", RUN_FILTER]
    assert (p0.mqtt_client_id, p1.mqtt_client_id) == ("gw-p0", "gw-p1")
    assert (p0.data_dir, p1.data_dir) == (Path("/data/p0"), Path("/data/p1"))
    assert (p0.gateway_name, p1.gateway_name) == ("edge-p0", "edge-p1")
    assert not p0.mqtt_partitions and not p1.mqtt_partitions


def test_partitions_from_the_environment_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWIN_MQTT_PARTITIONS", '[["a/#", "b/#"], ["c/#"]]')
    assert load_settings(None, **BASE).mqtt_partitions == [["a/#", "b/#"], ["c/#"]]


@pytest.mark.parametrize(
    ("kw", "needle"),
    [
        ({"mqtt_partitions": ["a/#", "b/#+"]}, "mqtt_partitions"),
        ({"mqtt_partitions": ["a/#"]}, "two or more"),
        ({"mqtt_partitions": ["a/+/x", "a/b/#"]}, "of partition 0 and 'a/b/#' of partition 1"),
        ({"mqtt_partitions": ["a/#", "b/#"], "opcua_endpoint": "opc.tcp://h:4840"}, "OPC UA"),
        ({"mqtt_topics": ["a/#/b"]}, "mqtt_topics"),
    ],
)
def test_bad_partitions_are_refused_with_the_setting_named(kw: dict, needle: str) -> None:
    with pytest.raises(SettingsError, match=needle):
        partition_settings(load_settings(None, **{**BASE, **kw}))


def test_cli_refuses_partitions_with_opcua(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["gateway", "--influx-url", "http://127.0.0.1:9", "--mqtt-url", "mqtt://127.0.0.1:9"]
    args += ["--opcua-endpoint", "opc.tcp://127.0.0.1:9", "--mqtt-partition", "a/#"]
    args += ["--mqtt-partition", "b/#"]
    assert main(args) == 2
    assert "mqtt_partitions" in capsys.readouterr().err


@pytest.mark.integration
def test_two_partitions_store_every_record_exactly_once(
    tmp_path: Path, influxd: InfluxServer, influx_db: str, broker: Mosquitto
) -> None:
    records = h.run_log(8 * 3600)
    run_id, start = h.envelope(records)
    base = h.settings(
        tmp_path,
        influxd,
        influx_db,
        mqtt_url=broker.url,
        mqtt_partitions=[
            "+/+/+/_plant/#,+/+/+/line1/depal/#,+/+/+/line1/filler/#,+/+/+/line1/capper/#",
            "+/+/+/line1/labeller/#,+/+/+/line1/casepacker/#,+/+/+/line1/palletiser/#,"
            "+/+/+/line1/flow,+/+/+/line1/buffer,+/+/+/line1/order",
        ],
    )
    gateway = PartitionedGateway(partition_settings(base))
    gateway.start()  # returns once both have connected and subscribed
    try:
        pub = h.connect_publisher(broker.port)
        h.publish(pub, records, run_id, start)
        pub.disconnect()
        # each partition stores the run_start: one more record out than records published
        h.wait_until(lambda: sum(gateway.records_out()) >= len(records) + 1, 60, "records out")
        p0, p1 = gateway.records_out()
        assert p0 > 1000 and p1 > 1000, "both partitions carried part of the load"
        assert p0 + p1 == len(records) + 1, "no record stored by both partitions"
        assert gateway.failed() is None
    finally:
        gateway.stop()
    h.assert_same_records(records, h.read_stored(influxd, influx_db, run_id))
    res = influxd.query(
        'SELECT count("records_in") FROM "gateway_stats" GROUP BY "gateway"', influx_db
    )
    tags = {s["tags"]["gateway"] for s in res["results"][0]["series"]}
    assert tags == {"test-p0", "test-p1"}, "each partition reports its own metrics"


@pytest.mark.integration
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_partitions_end_when_the_gateway_is_killed(
    tmp_path: Path, influxd: InfluxServer, influx_db: str, broker: Mosquitto
) -> None:
    """SIGKILL of a partitioned gateway: its partition processes stop too (cleanly, on the
    SIGTERM the kernel sends them), instead of running on as orphans that would take their
    topics under the client ids a restarted gateway uses."""
    argv = [
        *(sys.executable, "-m", "twin", "gateway", "--mqtt-url", broker.url),
        *("--influx-url", influxd.url, "--influx-database", influx_db),
        *("--data-dir", str(tmp_path / "data")),
        *("--mqtt-partition", "+/+/+/line1/#", "--mqtt-partition", "+/+/+/line2/#"),
    ]
    with (tmp_path / "gateway.log").open("wb") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    try:
        partitions: list[int] = []

        def started() -> bool:
            nonlocal partitions
            assert proc.poll() is None, (tmp_path / "gateway.log").read_text()[-2000:]
            partitions = children(proc.pid, b"spawn_main")
            return (
                len(partitions) == 2
                and "2 gateway partitions started" in (tmp_path / "gateway.log").read_text()
            )

        h.wait_until(started, 120, "both partitions started")
        proc.kill()
        proc.wait(timeout=30)
        h.wait_until(lambda: not any(map(alive, partitions)), 60, "partitions ended")
    finally:
        proc.kill()
