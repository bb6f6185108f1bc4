"""The writer's backoff while InfluxDB is unreachable: bounded by retry_max_s, and idle."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from gateway.buffer import DiskBuffer
from gateway.deadletter import DeadLetters
from gateway.stats import Stats
from gateway.writer import Writer
from tests.servers.influxdb import free_port
from twin_io.influx import InfluxV1Sink


def _writer_to_nobody(
    tmp_path: Path, backoff_s: float
) -> tuple[Writer, DiskBuffer, Stats, InfluxV1Sink, DeadLetters]:
    """Return a writer with one record buffered, to an InfluxDB URL nobody listens on, backing
    off ``backoff_s`` (initial and maximum)."""
    sink = InfluxV1Sink(f"http://127.0.0.1:{free_port()}", "twin", timeout_s=1.0)
    buffer = DiskBuffer(tmp_path / "b.sqlite", 1000)
    dead = DeadLetters(tmp_path / "dead.jsonl", 10**6)
    stats = Stats()
    buffer.append((0, "m", ["m v=1i 1000000"]))
    writer = Writer(buffer, sink, stats, dead, 1, 0.05, (backoff_s, backoff_s), lambda: None)
    return writer, buffer, stats, sink, dead


def test_backoff_is_idle_while_records_arrive_and_capped(tmp_path: Path) -> None:
    writer, buffer, stats, sink, dead = _writer_to_nobody(tmp_path, 0.6)
    stop = threading.Event()

    def wake_often() -> None:  # what ingest does for every committed batch
        while not stop.is_set():
            writer.wake.set()
            time.sleep(0.01)

    waker = threading.Thread(target=wake_often, daemon=True)
    writer.start()
    waker.start()
    try:
        time.sleep(0.5)
        cpu0, wall0 = time.process_time(), time.monotonic()
        retries0 = stats.counters["retries"]
        time.sleep(3.0)
        cpu = time.process_time() - cpu0
        retries = stats.counters["retries"] - retries0
        wall = time.monotonic() - wall0
    finally:
        stop.set()
        writer.stop(0)
        writer.join(5)
        sink.close()
        dead.close()
    # a delay of 0.6 s jittered by 0.5..1.5 but capped at 0.6: one retry per 0.3..0.6 s
    assert wall / 0.6 - 1 <= retries <= wall / 0.3 + 1
    assert cpu < 0.5 * wall, f"the writer spun: {cpu:.2f} s CPU in {wall:.2f} s"
    assert len(buffer) == 1


def test_the_shutdown_drain_backs_off_too(tmp_path: Path) -> None:
    """Stopped while InfluxDB is unreachable, the writer keeps its backoff for the drain's
    length (it retried without any delay: thousands of requests, hundreds of warnings) and
    leaves the records on disk."""
    writer, buffer, stats, sink, dead = _writer_to_nobody(tmp_path, 0.2)
    writer.start()
    try:
        deadline = time.monotonic() + 10
        while stats.counters["retries"] == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert stats.counters["retries"] > 0, "no write was tried"
        retries0, started = stats.counters["retries"], time.monotonic()
        writer.stop(1.0)
        writer.join(10)
        wall = time.monotonic() - started
        retries = stats.counters["retries"] - retries0
    finally:
        writer.stop(0)
        sink.close()
        dead.close()
    assert not writer.is_alive()
    # a delay of 0.2 s jittered by 0.5..1.5 but capped at 0.2: one retry per 0.1..0.2 s
    assert retries <= wall / 0.1 + 2, f"{retries} retries in a drain of {wall:.2f} s"
    assert len(buffer) == 1
