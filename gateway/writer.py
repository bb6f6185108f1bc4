"""Writer stage: oldest buffered points -> InfluxDB in batches, with retries and backoff.

A batch is written when it is full (``batch_size``) or its oldest point has waited
``flush_interval_s``. On success the rows are removed from the buffer; while InfluxDB is
unreachable or slow the rows stay and the write is retried with the project's backoff
(``twin_io.retry``: retry_initial_s doubling up to retry_max_s, with jitter), forever (the
bounded buffer is where data piles up). Lines InfluxDB refuses (HTTP 400,
or 422 from 2.x) are found by splitting the batch and set aside as dead letters; the rest are
written. A body refused for its size (413) is split the same way until the parts are taken; a
line too large on its own is set aside.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable

import numpy as np

from gateway.buffer import SOURCE_CODES, SOURCE_NAMES, Chunk, DiskBuffer
from gateway.deadletter import DeadLetters
from gateway.errors import SinkRejectedError, SinkUnavailableError
from gateway.stats import Stats
from twin_io.influx import Sink
from twin_io.retry import Backoff

logger = logging.getLogger(__name__)
METRICS_SOURCE = "_gateway"  # source name of the gateway's own metrics lines
_METRICS_CODE = SOURCE_CODES[METRICS_SOURCE]
_DATA_CODES = tuple(code for code in SOURCE_NAMES if code != _METRICS_CODE)
_TIMESTAMP = re.compile(rb" (\d+)$", re.MULTILINE)


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
        self.backoff = Backoff(*retry)
        self.on_free = on_free
        self.wake = threading.Event()
        self._halt = threading.Event()
        self._drain_until = 0.0
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
                    self.backoff.reset()
                    continue
                self._sleep(self.backoff.next_delay())
        except BaseException as exc:
            logger.exception("writer stopped by an error")
            self.error = exc

    def _next_batch(self) -> list[Chunk] | None:
        """Return chunks to write, ``[]`` when stopping with nothing left, ``None`` to loop."""
        chunks = self.buffer.peek(self.batch_size)
        stopping = self._halt.is_set()
        if not chunks:
            if stopping:
                return []
            self.wake.wait(self.flush_interval_s)
            self.wake.clear()
            return None
        if sum(c.n for c in chunks) < self.batch_size and not stopping:
            age_s = time.time() - chunks[0].received_ms / 1000.0
            if age_s < self.flush_interval_s:
                self.wake.wait(self.flush_interval_s - age_s)
                self.wake.clear()
                return None
        return chunks

    def _write(self, chunks: list[Chunk]) -> bool:
        """Write ``chunks``; return False when InfluxDB is unavailable (retry later)."""
        body = b"\n".join(c.body for c in chunks)
        sources = "".join(c.sources for c in chunks)
        self._rejected = set()
        try:
            try:
                self.sink.write(body)
                self.stats.bump("batches")
            except SinkRejectedError as exc:
                self._bisect(body.split(b"\n"), sources, 0, str(exc))
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
        self.buffer.ack(chunks[-1].id)
        self._account(body, sources)
        self.on_free()
        return True

    def _bisect(self, lines: list[bytes], sources: str, offset: int, reason: str) -> None:
        """Write halves until each refused line is alone; set those aside."""
        if len(lines) == 1:
            self._reject(lines[0], sources[offset], reason)
            self._rejected.add(offset)
            return
        mid = len(lines) // 2
        for part, start in ((lines[:mid], offset), (lines[mid:], offset + mid)):
            try:
                self.sink.write(b"\n".join(part))
                self.stats.bump("batches")
            except SinkRejectedError as exc:
                if len(part) == 1:
                    self._reject(part[0], sources[start], str(exc))
                    self._rejected.add(start)
                else:
                    self._bisect(part, sources, start, str(exc))

    def _reject(self, line: bytes, code: str, reason: str) -> None:
        source = SOURCE_NAMES.get(code, code)
        self.dead_letters.add(source, None, f"influxdb: {reason}", line)
        self.dead_letters.flush()
        self.stats.bump("rejected_by_influx")
        self.stats.add(source, "dead_lettered")

    def _account(self, body: bytes, sources: str) -> None:
        for code in _DATA_CODES:
            n = sources.count(code)
            if n:
                self.stats.add(SOURCE_NAMES[code], "records_out", n)
        if self._rejected:
            for i in self._rejected:
                if sources[i] != _METRICS_CODE:
                    self.stats.add(SOURCE_NAMES[sources[i]], "records_out", -1)
        self.stats.add_lags(_lags_ms(body, sources))
        self.stats.buffered = len(self.buffer)

    def _sleep(self, seconds: float) -> None:
        """Back off for ``seconds``; ``stop`` cuts it short, once.

        New records (``wake``) do not: waiting on ``wake`` here would return at once for the
        rest of the delay once it is set, a busy loop for the length of an outage. Nor does
        the halt once set (the same busy loop for the drain's length, against an InfluxDB that
        is down): while stopping, the writer backs off within what is left of the drain.
        """
        if self._halt.is_set():
            time.sleep(max(0.0, min(seconds, self._drain_until - time.monotonic())))
            return
        self._halt.wait(seconds)


def _lags_ms(body: bytes, sources: str) -> np.ndarray:
    """Return now - timestamp (ms) of each data line of ``body`` (metrics lines left out)."""
    stamps_ns = np.array(_TIMESTAMP.findall(body)).astype(np.int64)
    if stamps_ns.size != len(sources):  # every line ends in its timestamp: not expected
        logger.warning("lag not measured: %d timestamps in %d lines", stamps_ns.size, len(sources))
        return np.empty(0)
    data = np.frombuffer(sources.encode("ascii"), np.uint8) != ord(_METRICS_CODE)
    return time.time() * 1000.0 - (stamps_ns[data] // 1_000_000)
