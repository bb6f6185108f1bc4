"""Helpers of the gateway tests: settings, publishing records, reading them back, comparing."""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence
from operator import attrgetter
from pathlib import Path
from typing import Any

import orjson
import paho.mqtt.client as mqtt

from gateway.app import Gateway
from gateway.settings import GatewaySettings
from plant_sim import payloads
from plant_sim.records import Record, RunStart, to_dict
from plant_sim.telemetry_schema import (
    SCHEMAS,
    StoredRecord,
    point_parts,
    records_from_result,
    select_statement,
)
from tests.servers.influxdb import InfluxServer

#: Broker settings the gateway's guarantees need (see docs/gateway.md).
BROKER_CONF = [
    "max_queued_messages 1000000",
    "max_inflight_messages 1000",
    "queue_qos0_messages true",
]

#: Unacknowledged messages a test publisher leaves in flight (below paho's 65,535 message ids).
MAX_PENDING = 30_000


def settings(tmp: Path, influx: InfluxServer, db: str, **kw: Any) -> GatewaySettings:
    """Gateway settings for a test: fast flushes and metrics, a private data dir."""
    base: dict[str, Any] = {
        "influx_url": influx.url,
        "influx_database": db,
        "data_dir": tmp / "gw",
        "batch_size": 2000,
        "flush_interval_s": 0.1,
        "retry_initial_s": 0.1,
        "retry_max_s": 1.0,
        "metrics_interval_s": 1.0,
        "mqtt_client_id": f"gw-{db}",
        "gateway_name": "test",
    }
    base.update(kw)
    return GatewaySettings(**base)


def run_log(
    until_s: float = 3600.0, seed: int = 3, scenario: str = "bottling_line"
) -> list[Record]:
    """Return the records of a batch run of a repo scenario."""
    from plant_sim.scenario import load_scenario
    from plant_sim.simulation import run_batch

    root = Path(__file__).resolve().parents[2]
    return list(
        run_batch(load_scenario(root / "scenarios" / f"{scenario}.yaml"), until_s, seed).records
    )


def envelope(records: Sequence[Record]) -> tuple[str, int]:
    """Return ``(run_id, start_epoch_ms)`` from the run's first record."""
    start = records[0]
    assert isinstance(start, RunStart)
    return start.run_id, start.start_epoch_ms


def connect_publisher(url_port: int, client_id: str = "test-pub") -> mqtt.Client:
    """Return a connected paho publisher with a large in-flight window."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", url_port)
    client.loop_start()
    return client


def publish(
    client: mqtt.Client,
    records: Iterable[Record],
    run_id: str,
    start_ms: int,
    qos: int | None = None,
    first_n: int | None = None,
) -> int:
    """Publish records on their UNS topics with their contract QoS (or ``qos``); wait for acks.

    With ``first_n`` the payloads carry record numbers ``first_n``, ``first_n + 1``, ... (``n``),
    as the twin's do; without, none (as a foreign producer's).

    At most ``MAX_PENDING`` messages are left unacknowledged: paho numbers them with 16-bit
    message ids and refuses (ERR_QUEUE_SIZE) an id that is still pending.
    """
    pending: deque[mqtt.MQTTMessageInfo] = deque()
    count = 0
    for rec in records:
        topic, retain, route_qos = payloads.route(rec, "acme", "plant1", "bottling")
        use_qos = route_qos if qos is None else qos
        n = None if first_n is None else first_n + count
        payload = payloads.encode(rec, run_id, start_ms, n)
        pending.append(client.publish(topic, payload, use_qos, retain))
        count += 1
        if len(pending) > MAX_PENDING:
            pending.popleft().wait_for_publish(timeout=60)
    for info in pending:
        info.wait_for_publish(timeout=60)
    return count


def read_stored(influx: InfluxServer, db: str, run_id: str | None = None) -> list[StoredRecord]:
    """Return every record stored in ``db`` (all kinds), ordered by time and seq."""
    out: list[StoredRecord] = []
    for kind in SCHEMAS:
        out += records_from_result(influx.query(select_statement(kind, run_id), db))
    out.sort(key=attrgetter("order"))
    return out


def stored_numbers(influx: InfluxServer, db: str, run_id: str) -> list[int]:
    """Return the record number (``n``) of every stored point of a run, all kinds, sorted."""
    out = [s.n for s in read_stored(influx, db, run_id)]
    assert None not in out, "a point without its record number"
    return sorted(out)  # type: ignore[type-var]


def count_stored(influx: InfluxServer, db: str) -> int:
    """Return the number of stored record points (all kinds)."""
    total = 0
    for schema in SCHEMAS.values():
        res = influx.query(f'SELECT count("t") FROM "{schema.measurement}"', db)
        for series in res["results"][0].get("series", []) or []:
            total += int(series["values"][0][1])
    return total


def wait_until(check: Callable[[], bool], timeout_s: float, what: str, step_s: float = 0.2) -> None:
    """Poll ``check`` until it is true; fail naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(step_s)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def wait_stored(influx: InfluxServer, db: str, n: int, timeout_s: float = 60.0) -> None:
    """Wait until ``n`` record points are stored; the failure says how many were."""
    try:
        wait_until(lambda: count_stored(influx, db) >= n, timeout_s, f"{n} stored records")
    except AssertionError as exc:
        raise AssertionError(f"{exc} ({count_stored(influx, db)} stored)") from None


def _value(v: Any) -> Any:
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return v
    if isinstance(v, int | float):
        return float(v)  # the model may emit t=0 as an int; equal in value to 0.0
    return orjson.dumps(v, option=orjson.OPT_SORT_KEYS)


def key(record: Record) -> tuple:
    """A comparable form of a record: its dict form, numbers as floats, sorted."""
    return tuple(sorted((k, _value(v)) for k, v in to_dict(record).items()))


def assert_same_records(expected: Sequence[Record], stored: Sequence[StoredRecord]) -> None:
    """Every expected record is stored exactly once, equal in content, in per-series order."""
    want = Counter(key(r) for r in expected)
    got = Counter(key(s.record) for s in stored)
    missing = want - got
    extra = got - want
    assert not missing and not extra, (
        f"{sum(missing.values())} missing, {sum(extra.values())} extra; "
        f"e.g. missing {list(missing)[:2]}, extra {list(extra)[:2]}"
    )
    assert len(stored) == len(expected)
    assert_series_order(expected, stored)


def assert_series_order(expected: Sequence[Record], stored: Sequence[StoredRecord]) -> None:
    """Within each series, records read back by time are in the order they were emitted."""
    run_id = stored[0].run_id if stored else ""
    want: dict[str, list[tuple]] = {}
    for rec in expected:
        want.setdefault(point_parts(rec, run_id)[0], []).append(key(rec))
    got: dict[str, list[tuple]] = {}
    for s in stored:
        got.setdefault(point_parts(s.record, s.run_id)[0], []).append(key(s.record))
    for series, keys in want.items():
        assert got.get(series) == keys, f"order differs in series {series}"


def start_gateway(cfg: GatewaySettings) -> Gateway:
    """Start a gateway in this process."""
    gw = Gateway(cfg)
    gw.start()
    return gw
