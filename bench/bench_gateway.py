"""Benchmark the gateway: sustained records/s from MQTT into InfluxDB, nothing lost, and lag.

Real Mosquitto and the real InfluxDB (Debian 1.6.7) on loopback; publishers in separate processes.

- **drain**: N records are queued in the broker for the consumer's persistent session while it is
  offline (QoS 1); then the consumer starts and the clock runs until all N are stored. This is
  the consumer's sustained rate, publisher speed aside. Afterwards the stored points are counted.
- **live**: publishers offer ``--rate`` records/s for ``--seconds`` with ``ts_ms`` = publish time;
  lag = time the record is confirmed stored - ``ts_ms`` (p50, p99 over every record).

Consumers: the gateway (v1 ``/write``, and the v2 path through the test v2->v1 translation), and
two naive gateways written with influxdb-client: ``naive_sync`` does one write request per message
(``write_api(SYNCHRONOUS)``), ``naive_batching`` one ``write()`` call per message with the client's
default (batching) WriteApi. influxdb-client needs ``/api/v2/write``, which 1.6.7 lacks, so the
naive ones go through the same translation (tests/gateway/v2_proxy.py).

    python bench/bench_gateway.py --runs 3    # medians of 3 runs -> bench/results/gateway.json
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gateway.app import Gateway  # noqa: E402
from gateway.normalize import decode  # noqa: E402
from gateway.partitions import PartitionedGateway, partition_settings  # noqa: E402
from gateway.settings import GatewaySettings  # noqa: E402
from plant_sim import payloads  # noqa: E402
from plant_sim.gc_pause import tune_for_streaming  # noqa: E402
from plant_sim.records import (  # noqa: E402
    BufferLevel,
    PartDone,
    ProcessSample,
    Record,
    RunStart,
    StateChange,
)
from plant_sim.states import StationState  # noqa: E402
from plant_sim.telemetry_schema import to_line  # noqa: E402
from tests.gateway.helpers import count_stored  # noqa: E402
from tests.gateway.v2_proxy import V2Proxy  # noqa: E402
from tests.servers.influxdb import InfluxServer  # noqa: E402
from tests.servers.mosquitto import Mosquitto, mosquitto_binary  # noqa: E402

ENT, SITE, AREA = "acme", "plant1", "bench"
LINES = [f"line{i}" for i in range(1, 4)]
STATIONS = [(line, f"st{j:02d}") for line in LINES for j in range(1, 11)]
BROKER_CONF = [
    "max_queued_messages 2000000",
    "max_queued_bytes 0",
    "max_inflight_messages 5000",
    "queue_qos0_messages true",
]
STATES = list(StationState)
PHASES = (
    "gateway_drain",
    "gateway_partitioned_drain",
    "gateway_v2_drain",
    "naive_sync_drain",
    "naive_batching_drain",
    "gateway_live",
    "naive_batching_live",
)


# ----------------------------------------------------------------- records and publishers


def run_start(run_id: str, start_ms: int) -> RunStart:
    """The run's first record: declares the 30 stations."""
    lines = [
        {"line": ln, "stations": [s for l2, s in STATIONS if l2 == ln], "buffers": ["b"]}
        for ln in LINES
    ]
    return RunStart(0.0, run_id, "bench", 1, start_ms, None, ENT, SITE, AREA, lines)


def record(i: int, t: float) -> Record:
    """The i-th synthetic record: samples, state changes, parts and buffer levels of 30 stations."""
    line, station = STATIONS[i % len(STATIONS)]
    kind = (i // len(STATIONS)) % 4
    if kind == 0:
        return ProcessSample(t, line, station, 60.0 + i % 17, 4.5, i * 0.01, 1.0)
    if kind == 1:
        return StateChange(t, line, station, STATES[i % len(STATES)], None, 3.5, "cola")
    if kind == 2:
        return PartDone(t, line, station, f"p{i}", "cola", f"o{i // 100}", "good", 2.1, 2.0)
    return BufferLevel(t, line, "b", i % 10, 10)


def _publisher(port: int, run_id: str, start_ms: int, ids: range, rate: float, done: Any) -> None:
    """Publish records ``ids`` at QoS 1 (``rate`` > 0: paced, ``ts_ms`` = now)."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"pub-{ids.start}")
    client.max_inflight_messages_set(1000)
    client.connect("127.0.0.1", port)
    client.loop_start()
    t0 = time.time()
    infos = []
    for n, i in enumerate(ids):
        if rate > 0:
            due = t0 + n / rate
            delay = due - time.time()
            if delay > 0:
                time.sleep(delay)
            t = (time.time() * 1000 - start_ms) / 1000.0
        else:
            t = i * 0.001  # one distinct millisecond per record
        rec = record(i, t)
        topic = payloads.route(rec, ENT, SITE, AREA)[0]
        infos.append(client.publish(topic, payloads.encode(rec, run_id, start_ms), 1))
        if len(infos) >= 5000:
            infos.pop(0).wait_for_publish(60)
    for info in infos:
        info.wait_for_publish(60)
    client.disconnect()
    client.loop_stop()
    done.put(len(ids))


def publish(
    port: int, run_id: str, start_ms: int, n: int, rate: float = 0.0, procs: int = 2
) -> None:
    """Publish run_start + ``n`` records from ``procs`` processes; return when all are acked."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="pub-start")
    client.connect("127.0.0.1", port)
    client.loop_start()
    rs = run_start(run_id, start_ms)
    client.publish(
        payloads.route(rs, ENT, SITE, AREA)[0], payloads.encode(rs, run_id, start_ms), 1
    ).wait_for_publish(10)
    client.disconnect()
    client.loop_stop()
    ctx = mp.get_context("spawn")
    done = ctx.Queue()
    # process k publishes the records of every procs-th station: each series from one
    # publisher, in time order, as a plant's own publisher would
    workers = [
        ctx.Process(
            target=_publisher,
            args=(port, run_id, start_ms, range(k, n, procs), rate / procs, done),
        )
        for k in range(procs)
    ]
    for w in workers:
        w.start()
    for _ in workers:
        done.get(timeout=600)
    for w in workers:
        w.join()


# ----------------------------------------------------------------- consumers


class GatewayConsumer:
    """The project's gateway, in this process."""

    def __init__(self, influx_url: str, db: str, broker: Mosquitto, data: Path, **kw: Any) -> None:
        self.settings = GatewaySettings(
            influx_url=influx_url,
            influx_database=db,
            influx_bucket=db,
            mqtt_url=broker.url,
            mqtt_client_id=f"gw-{db}",
            data_dir=data,
            metrics_interval_s=3600,
            flush_interval_s=0.2,
            **kw,
        )
        self.gw: Gateway | None = None
        self.lag = None
        self.client_ids = [self.settings.mqtt_client_id]

    def start(self) -> None:
        self.gw = Gateway(self.settings)
        self.gw.start()

    def stop(self) -> None:
        assert self.gw is not None
        self.lag = self.gw.stats.lag_total
        self.gw.stop()

    def stored(self) -> int:
        assert self.gw is not None
        return self.gw.stats.snapshot().get("mqtt", {}).get("records_out", 0)

    def processes(self) -> list[psutil.Process]:
        """The processes the consumer runs in (for its CPU time): this one."""
        return [psutil.Process()]


class NaiveConsumer:
    """paho with auto-ack, and one influxdb-client write per message."""

    def __init__(self, proxy_url: str, db: str, broker: Mosquitto, mode: str) -> None:
        self.proxy_url, self.db, self.broker, self.mode = proxy_url, db, broker, mode
        self.count = 0
        self.client_id = f"naive-{db}"
        self.client_ids = [self.client_id]
        self.lags: list[float] = []
        self._lock = threading.Lock()
        self.lag = None

    def start(self) -> None:
        from influxdb_client import InfluxDBClient, WritePrecision
        from influxdb_client.client.write_api import SYNCHRONOUS

        self._influx = InfluxDBClient(url=self.proxy_url, token="u:p", org="-")
        if self.mode == "sync":
            self._write = self._influx.write_api(write_options=SYNCHRONOUS)
        else:
            self._write = self._influx.write_api(success_callback=self._on_batch)
        self._precision = WritePrecision.NS
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=self.client_id, clean_session=False
        )
        subscribed = threading.Event()
        self.client.on_connect = lambda c, *_: c.subscribe("#", 1)
        self.client.on_subscribe = lambda *_: subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", self.broker.port)
        self.client.loop_start()
        subscribed.wait(10)  # the persistent session must hold the subscription before a stop

    def _on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            rec, run_id, ts_ms = decode(msg.payload)
        except ValueError:
            return
        self._write.write(self.db, "-", to_line(rec, run_id, ts_ms), self._precision)
        if self.mode == "sync":
            with self._lock:
                self.count += 1
                self.lags.append(time.time() * 1000 - ts_ms)

    def _on_batch(self, _conf: Any, data: Any) -> None:
        text = data.decode() if isinstance(data, bytes) else str(data)
        now = time.time() * 1000
        lines = text.split("\n")
        with self._lock:
            self.count += len(lines)
            self.lags.extend(now - int(ln.rsplit(" ", 1)[1]) / 1e6 for ln in lines)

    def stop(self) -> None:
        from gateway.stats import LagHistogram

        self.client.disconnect()
        self.client.loop_stop()
        self._write.close()
        self._influx.close()
        self.lag = LagHistogram()
        self.lag.add_many(self.lags)

    def stored(self) -> int:
        return self.count

    def processes(self) -> list[psutil.Process]:
        """The processes the consumer runs in (for its CPU time): this one."""
        return [psutil.Process()]


#: Two partitions of the bench plant's topics: stations st01-st05 of every line and line1's
#: buffer; stations st06-st10 and the buffers of line2 and line3 (about 46 % and 54 %).
BENCH_PARTITIONS = [
    [f"+/+/+/+/st{j:02d}/#" for j in range(1, 6)] + ["+/+/+/line1/buffer"],
    [f"+/+/+/+/st{j:02d}/#" for j in range(6, 11)] + ["+/+/+/line2/buffer", "+/+/+/line3/buffer"],
]


class PartitionedConsumer(GatewayConsumer):
    """The project's gateway with ``mqtt_partitions``: one child process per partition."""

    def __init__(self, influx_url: str, db: str, broker: Mosquitto, data: Path) -> None:
        super().__init__(influx_url, db, broker, data, mqtt_partitions=BENCH_PARTITIONS)
        self.parts = partition_settings(self.settings)
        self.client_ids = [p.mqtt_client_id for p in self.parts]
        self.group: PartitionedGateway | None = None

    def start(self) -> None:
        self.group = PartitionedGateway(self.parts)
        self.group.start()

    def stop(self) -> None:
        assert self.group is not None
        self.group.stop()

    def stored(self) -> int:
        """Records stored; each partition stores the run_start, InfluxDB keeps it once."""
        assert self.group is not None
        out = self.group.records_out()
        return sum(out) - (len(out) - 1 if all(out) else 0)

    def processes(self) -> list[psutil.Process]:
        """The partitions' processes (started by the last ``start``)."""
        assert self.group is not None
        return [psutil.Process(pid) for pid in self.group.pids()]


# ----------------------------------------------------------------- measurements


def forget_session(broker: Mosquitto, client_id: str) -> None:
    """Delete a consumer's persistent session (a clean-session connect), so that later phases
    do not queue every message for it too."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    time.sleep(0.2)
    client.disconnect()
    client.loop_stop()


def wait_for(consumer: Any, n: int, timeout_s: float) -> float:
    """Wait until ``consumer`` stored ``n`` records; return the time it took."""
    t0 = time.perf_counter()
    while consumer.stored() < n:
        if time.perf_counter() - t0 > timeout_s:
            raise TimeoutError(f"{consumer.stored()} of {n} stored after {timeout_s} s")
        time.sleep(0.01)
    return time.perf_counter() - t0


def drain(make: Any, influx: InfluxServer, broker: Mosquitto, n: int) -> dict[str, Any]:
    """Queue ``n`` records for an offline consumer, then time how fast it stores them."""
    db = influx.create_database()
    consumer = make(db)
    consumer.start()  # creates the persistent session
    consumer.stop()
    run_id, start_ms = f"drain-{db}", 1_767_571_200_000
    publish(broker.port, run_id, start_ms, n)
    total = n + 1  # + run_start
    consumer.start()  # returns once connected (and, partitioned, its processes are ready)
    procs = _cpu_procs(influx, broker, consumer)
    cpu0 = _cpu_seconds(procs)
    t0 = time.perf_counter()
    early = consumer.stored()  # stored while starting: left out of the rate
    wait_for(consumer, total, timeout_s=600)
    elapsed = time.perf_counter() - t0
    cpu1 = _cpu_seconds(procs)
    consumer.stop()
    for client_id in consumer.client_ids:
        forget_session(broker, client_id)
    stored = count_stored(influx, db)
    timed = total - early
    return {
        "records": total,
        "records_timed": timed,
        "seconds": round(elapsed, 3),
        "records_per_s": round(timed / elapsed),
        "stored_points": stored,
        "lost": total - stored,
        # cores used during the drain (CPU seconds / wall seconds); 2.0 = both cores
        "cpu_consumer": round((cpu1["consumer"] - cpu0["consumer"]) / elapsed, 2),
        # the consumer's efficiency, less sensitive to other load than records/s
        "records_per_cpu_s": round(timed / max(cpu1["consumer"] - cpu0["consumer"], 1e-9)),
        "cpu_influxd": round((cpu1["influxd"] - cpu0["influxd"]) / elapsed, 2),
        "cpu_mosquitto": round((cpu1["mosquitto"] - cpu0["mosquitto"]) / elapsed, 2),
        "load_1min": round(os.getloadavg()[0], 2),
    }


def _cpu_procs(
    influx: InfluxServer, broker: Mosquitto, consumer: Any
) -> dict[str, list[psutil.Process]]:
    """The processes whose CPU a drain reports (the consumer's: this one or its children)."""
    assert influx.proc is not None and broker._proc is not None
    return {
        "consumer": consumer.processes(),
        "influxd": [psutil.Process(influx.proc.pid)],
        "mosquitto": [psutil.Process(broker._proc.pid)],
    }


def _cpu_seconds(procs: dict[str, list[psutil.Process]]) -> dict[str, float]:
    out = {}
    for name, group in procs.items():
        out[name] = sum(t.user + t.system for t in (proc.cpu_times() for proc in group))
    return out


def live(
    make: Any, influx: InfluxServer, broker: Mosquitto, rate: float, seconds: float
) -> dict[str, Any]:
    """Offer ``rate`` records/s for ``seconds``; return throughput and lag percentiles."""
    db = influx.create_database()
    consumer = make(db)
    consumer.start()
    n = int(rate * seconds)
    run_id, start_ms = f"live-{db}", int(time.time() * 1000)
    t0 = time.perf_counter()
    publish(broker.port, run_id, start_ms, n, rate=rate)
    wait_for(consumer, n + 1, timeout_s=300)
    elapsed = time.perf_counter() - t0
    consumer.stop()
    for client_id in consumer.client_ids:
        forget_session(broker, client_id)
    stored = count_stored(influx, db)
    lag = consumer.lag
    return {
        "offered_per_s": rate,
        "records": n + 1,
        "records_per_s": round((n + 1) / elapsed),
        "lag_ms_p50": lag.percentile(50),
        "lag_ms_p99": lag.percentile(99),
        "stored_points": stored,
        "lost": n + 1 - stored,
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print a table of medians and write JSON."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--records", type=int, default=200_000, help="drain size for the gateway")
    ap.add_argument("--naive-records", type=int, default=5_000, help="drain size, naive_sync")
    ap.add_argument("--rate", type=float, default=3_000, help="offered rate of the live phase")
    ap.add_argument("--seconds", type=float, default=10.0, help="length of the live phase")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "gateway.json")
    ap.add_argument(
        "--phases",
        default=",".join(PHASES),
        help=f"comma-separated subset of {','.join(PHASES)} (targets need gateway_drain and "
        "naive_batching_drain)",
    )
    args = ap.parse_args(argv)
    selected = [p.strip() for p in args.phases.split(",") if p.strip()]
    unknown = sorted(set(selected) - set(PHASES))
    if unknown:
        ap.error(f"unknown phases: {', '.join(unknown)}")
    logging.basicConfig(level=logging.WARNING)
    tune_for_streaming()  # as ``twin gateway`` does (every consumer here shares this process)
    if mosquitto_binary() is None:
        print("mosquitto is not installed", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="bench-gw-"))
    influx = InfluxServer(tmp / "influx")
    influx.start()
    broker = Mosquitto(mosquitto_binary() or "", tmp / "mqtt", BROKER_CONF)
    broker.start()
    proxy = V2Proxy(influx.url)
    runs: list[dict[str, Any]] = []
    try:
        for r in range(args.runs):
            d = tmp / f"run{r}"
            gw = lambda db, d=d: GatewayConsumer(influx.url, db, broker, d / db)  # noqa: E731
            gwp = lambda db, d=d: PartitionedConsumer(influx.url, db, broker, d / db)  # noqa: E731
            gw2 = lambda db, d=d: GatewayConsumer(  # noqa: E731
                proxy.url, db, broker, d / db, influx_api="v2", influx_token="u:p"
            )
            nsync = lambda db: NaiveConsumer(proxy.url, db, broker, "sync")  # noqa: E731
            nbatch = lambda db: NaiveConsumer(proxy.url, db, broker, "batching")  # noqa: E731
            phases = {
                "gateway_drain": (drain, gw, args.records),
                "gateway_partitioned_drain": (drain, gwp, args.records),
                "gateway_v2_drain": (drain, gw2, args.records),
                "naive_sync_drain": (drain, nsync, args.naive_records),
                "naive_batching_drain": (drain, nbatch, args.records // 2),
                "gateway_live": (live, gw, args.rate, args.seconds),
                "naive_batching_live": (live, nbatch, args.rate, args.seconds),
            }
            result = {}
            for name in selected:
                fn, make, *rest = phases[name]
                result[name] = fn(make, influx, broker, *rest)
            runs.append(result)
            print(f"run {r + 1}: " + json.dumps(result), flush=True)
    finally:
        proxy.close()
        broker.stop()
        influx.stop()
    summary = {
        name: {
            k: statistics.median(run[name][k] for run in runs)
            for k in runs[0][name]
            if runs[0][name][k] is not None
        }
        for name in runs[0]
    }
    rate = {name: summary[name]["records_per_s"] for name in summary}
    if "gateway_drain" in rate and "naive_sync_drain" in rate:
        summary["speedup_vs_naive_sync"] = round(
            rate["gateway_drain"] / rate["naive_sync_drain"], 1
        )
    if "gateway_drain" in rate and "naive_batching_drain" in rate:
        summary["speedup_vs_naive_batching"] = round(
            rate["gateway_drain"] / rate["naive_batching_drain"], 1
        )
    if "gateway_partitioned_drain" in rate and "naive_batching_drain" in rate:
        summary["speedup_partitioned_vs_naive_batching"] = round(
            rate["gateway_partitioned_drain"] / rate["naive_batching_drain"], 1
        )
    summary["load_average"] = [round(x, 2) for x in os.getloadavg()]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"runs": runs, "median": summary}, indent=2))
    print(json.dumps(summary, indent=2))
    print_targets(summary, runs)
    return 0


TARGET_RATE = 30_000
TARGET_SPEEDUP = 10.0


def print_targets(summary: dict[str, Any], runs: list[dict[str, Any]]) -> None:
    """Print each issue target beside the measured median, with PASS/FAIL."""
    lost = sum(
        run[name].get("lost", 0) for run in runs for name in run if name.startswith("gateway")
    )
    rows = []
    for name in ("gateway_drain", "gateway_partitioned_drain", "gateway_v2_drain"):
        if name in summary:
            got = summary[name]["records_per_s"]
            rows.append(
                (f"{name} records/s", f">= {TARGET_RATE:,}", f"{got:,.0f}", got >= TARGET_RATE)
            )
    for key, what in (
        ("speedup_vs_naive_batching", "speedup vs naive batching"),
        ("speedup_partitioned_vs_naive_batching", "partitioned vs naive"),
    ):
        if key in summary:
            got = summary[key]
            rows.append((what, f">= {TARGET_SPEEDUP:g}x", f"{got}x", got >= TARGET_SPEEDUP))
    rows.append(("gateway records lost", "0", str(lost), lost == 0))
    print(f"targets (load average {summary['load_average']}):")
    for what, target, got, ok in rows:
        print(f"  {what:<28} target {target:>9}  measured {got:>9}  {'PASS' if ok else 'FAIL'}")


if __name__ == "__main__":
    sys.exit(main())
