"""Write line protocol through the v1 sink of ``twin_io.influx`` (InfluxDB 1.x, 2.x and 3.x).

``LineWriter.write(lines)`` sends batches of ``batch_size`` lines, retrying a batch that InfluxDB
could not take for now (``InfluxUnavailableError``) with a growing delay, and raises
``InfluxError`` when it still fails or when InfluxDB refuses the lines themselves.
``BackgroundWriter`` does the same from a thread behind a bounded queue, so a producer (the
backfill simulation) keeps one core busy while InfluxDB takes the previous batches.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Sequence

from twin_io.influx import InfluxConfig, InfluxError, InfluxUnavailableError, InfluxV1Sink, Sink
from twin_io.retry import Backoff

BATCH_SIZE = 5_000
MAX_DELAY_S = 10.0


def make_sink(config: InfluxConfig) -> InfluxV1Sink:
    """Return the ``/write`` sink for ``config`` (creates the database on 1.x)."""
    return InfluxV1Sink(
        config.url,
        config.database,
        None,
        config.username,
        config.password,
        config.token,
        config.timeout_s,
    )


class LineWriter:
    """Writes lines in batches with retries; counts what it wrote."""

    def __init__(
        self, sink: Sink, batch_size: int = BATCH_SIZE, retries: int = 5, delay_s: float = 0.5
    ) -> None:
        self.sink = sink
        self.batch_size = batch_size
        self.retries = retries
        self.delay_s = delay_s
        self.lines_written = 0

    def prepare(self) -> None:
        """Make the target ready (``CREATE DATABASE`` on 1.x)."""
        self.sink.prepare()

    def write(self, lines: Sequence[str]) -> None:
        """Write every line; raises ``InfluxError`` naming the endpoint when it cannot."""
        for i in range(0, len(lines), self.batch_size):
            self._write_batch("\n".join(lines[i : i + self.batch_size]).encode())
        self.lines_written += len(lines)

    def _write_batch(self, body: bytes) -> None:
        backoff = Backoff(self.delay_s, MAX_DELAY_S)
        while True:
            try:
                self.sink.write(body)
                return
            except InfluxUnavailableError as exc:
                if backoff.failures == self.retries:
                    raise InfluxError(
                        f"{exc} (gave up after {backoff.failures + 1} attempts)"
                    ) from exc
                time.sleep(backoff.next_delay())

    def close(self) -> None:
        """Close the sink."""
        self.sink.close()


class BackgroundWriter:
    """A ``LineWriter`` in a thread: ``put(lines)`` queues, ``close()`` waits for the rest."""

    def __init__(self, writer: LineWriter, max_pending: int = 8) -> None:
        self.writer = writer
        self._queue: queue.Queue[Sequence[str] | None] = queue.Queue(maxsize=max_pending)
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="backfill-writer", daemon=True)
        self._thread.start()

    def put(self, lines: Sequence[str]) -> None:
        """Queue lines for writing (blocks while ``max_pending`` chunks wait)."""
        self._raise()
        self._queue.put(lines)

    def close(self) -> None:
        """Write what is queued, stop the thread, and raise its error, if any."""
        self._queue.put(None)
        self._thread.join()
        self._raise()

    def _raise(self) -> None:
        if self.error is not None:
            raise InfluxError(f"background write failed: {self.error}") from self.error

    def _run(self) -> None:
        while (lines := self._queue.get()) is not None:
            if self.error is None:
                try:
                    self.writer.write(lines)
                except BaseException as exc:  # reported by put() and close()
                    self.error = exc
