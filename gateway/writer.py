"""Writer stage: oldest buffered points -> InfluxDB in batches, with retries and backoff.

A batch is written when it is full (``batch_size``) or its oldest point has waited
``flush_interval_s``. On success the rows are removed from the buffer; while InfluxDB is
unreachable or slow the rows stay and the write is retried with exponential backoff and
jitter, forever (the bounded buffer is where data piles up). Lines InfluxDB refuses (HTTP 400)
are found by splitting the batch and set aside as dead letters; the rest are written.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable

from gateway.buffer import DiskBuffer, Row
from gateway.deadletter import DeadLetters
from gateway.errors import SinkRejectedError, SinkUnavailableError
from gateway.sinks.base import Sink
from gateway.stats import Stats

logger = logging.getLogger(__name__)
METRICS_SOURCE = "_gateway"


class Writer(threading.Thread):
    """The writer thread; ``stop(drain_s)`` writes what it can within ``drain_s`` and returns."""

    def __init__(
        self,
        buffer: DiskBuffer,
        sink: Sink,
        stats: Stats,
        dead_letters: DeadLetters,
        batch_size: int,
        flush_interval_s: float,
        retry: tuple[float, float],
        on_free: Callable[[], None],
    ) -> None:
        super().__init__(name="gateway-writer", daemon=True)
        self.buffer = buffer
        self.sink = sink
        self.stats = stats
        self.dead_letters = dead_letters
        self.batch_size = batch_size
        self.flush_interval_s = flush_interval_s
        self.retry_initial_s, self.retry_max_s = retry
        self.on_free = on_free
        self.wake = threading.Event()
        self._halt = threading.Event()
        self._drain_until = 0.0
        self._rng = random.Random()
        self.healthy = threading.Event()
        self.error: BaseException | None = None
        self._rejected: set[int] = set()

    def stop(self, drain_s: float = 5.0) -> None:
        """Stop after writing what is buffered, for at most ``drain_s`` seconds."""
        self._drain_until = time.monotonic() + drain_s
        self._halt.set()
        self.wake.set()

    def run(self) -> None:
        """Write batches until stopped."""
        delay = self.retry_initial_s
        try:
            while True:
                if self._halt.is_set() and (time.monotonic() >= self._drain_until):
                    return
                rows = self._next_batch()
                if rows is None:
                    continue
                if not rows:
                    return  # stopping and drained
                if self._write(rows):
                    delay = self.retry_initial_s
                    continue
                self._sleep(delay * (0.5 + self._rng.random()))
                delay = min(delay * 2, self.retry_max_s)
        except BaseException as exc:
            logger.exception("writer stopped by an error")
            self.error = exc

    def _next_batch(self) -> list[Row] | None:
        """Return a batch to write, ``[]`` when stopping with nothing left, ``None`` to loop."""
        rows = self.buffer.peek(self.batch_size)
        stopping = self._halt.is_set()
        if not rows:
            if stopping:
                return []
            self.wake.wait(self.flush_interval_s)
            self.wake.clear()
            return None
        if len(rows) < self.batch_size and not stopping:
            age_s = time.time() - rows[0].received_ms / 1000.0
            if age_s < self.flush_interval_s:
                self.wake.wait(self.flush_interval_s - age_s)
                self.wake.clear()
                return None
        return rows

    def _write(self, rows: list[Row]) -> bool:
        """Write ``rows``; return False when InfluxDB is unavailable (retry later)."""
        self._rejected = set()
        try:
            self._send(rows)
        except SinkUnavailableError as exc:
            self.stats.bump("retries")
            self.stats.bump("write_errors")
            if self.healthy.is_set() or self.stats.counters["retries"] % 20 == 1:
                logger.warning(
                    "InfluxDB unavailable, %d records buffered: %s", len(self.buffer), exc
                )
            self.healthy.clear()
            return False
        if not self.healthy.is_set():
            logger.info("InfluxDB writes succeed; %d records buffered", len(self.buffer))
            self.healthy.set()
        self.buffer.ack(rows[-1].id)
        self._account(rows)
        self.on_free()
        return True

    def _send(self, rows: list[Row]) -> None:
        try:
            self.sink.write("\n".join(r.line for r in rows).encode())
            self.stats.bump("batches")
        except SinkRejectedError as exc:
            if len(rows) == 1:
                self._reject(rows[0], str(exc))
                return
            mid = len(rows) // 2
            self._send(rows[:mid])
            self._send(rows[mid:])

    def _reject(self, row: Row, reason: str) -> None:
        self.dead_letters.add(row.source, None, f"influxdb: {reason}", row.line)
        self.dead_letters.flush()
        self.buffer.remove([row.id])
        self._rejected.add(row.id)
        self.stats.bump("rejected_by_influx")
        self.stats.add(row.source, "dead_lettered")

    def _account(self, rows: list[Row]) -> None:
        now_ms = time.time() * 1000.0
        counts: dict[str, int] = {}
        lags = []
        for row in rows:
            if row.source == METRICS_SOURCE or row.id in self._rejected:
                continue
            counts[row.source] = counts.get(row.source, 0) + 1
            ts_ms = int(row.line[row.line.rfind(" ") + 1 :]) // 1_000_000
            lags.append(now_ms - ts_ms)
        for source, n in counts.items():
            self.stats.add(source, "records_out", n)
        self.stats.add_lags(lags)
        self.stats.buffered = len(self.buffer)

    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self._halt.is_set() and time.monotonic() < deadline:
            self.wake.wait(min(0.2, deadline - time.monotonic()))
        self.wake.clear()
