"""Ingest stage: raw messages -> normalized, sequenced points in the disk buffer, then acks.

One thread owns the normalizer and the sequencer. It takes what the sources put into the
bounded intake queue (a full queue blocks the sources), sets rejected messages aside, and
commits the points with the sequencer state in one buffer transaction. Only then does it
acknowledge the messages (MQTT PUBACK), so a message the broker considers delivered is on disk.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

from gateway.buffer import SOURCE_CODES, DiskBuffer
from gateway.deadletter import DeadLetters
from gateway.normalize import Normalizer, RawMessage, Rejected
from gateway.sequencer import Sequencer
from gateway.stats import Stats
from plant_sim.telemetry_schema import SEQ_LIMIT, SOURCE_FIELD

logger = logging.getLogger(__name__)


class Intake(queue.Queue):  # type: ignore[type-arg]
    """The bounded intake: holds ``RawMessage``s or lists of them, bounded in messages.

    A source that receives many messages at once (the fast MQTT source: one socket read) puts
    them as one list, one lock round-trip instead of one per message. ``maxsize`` counts
    messages; a list put while there is room may overshoot the bound by its own length.
    """

    def _init(self, maxsize: int) -> None:
        super()._init(maxsize)
        self._messages = 0

    def _qsize(self) -> int:
        return self._messages

    def _put(self, item: RawMessage | list[RawMessage]) -> None:
        self.queue.append(item)
        self._messages += len(item) if type(item) is list else 1

    def _get(self) -> RawMessage | list[RawMessage]:
        item = self.queue.popleft()
        self._messages -= len(item) if type(item) is list else 1
        return item


class Ingest(threading.Thread):
    """The ingest thread; ``stop()`` finishes what was taken and returns."""

    def __init__(  # noqa: PLR0913
        self,
        intake: queue.Queue[RawMessage] | Intake,
        buffer: DiskBuffer,
        normalizer: Normalizer,
        sequencer: Sequencer,
        dead_letters: DeadLetters,
        stats: Stats,
        block_when_full: bool,
        on_commit: Callable[[], None],
        max_batch: int = 5_000,
    ) -> None:
        super().__init__(name="gateway-ingest", daemon=True)
        self.intake = intake
        self.buffer = buffer
        self.normalizer = normalizer
        self.sequencer = sequencer
        self.dead_letters = dead_letters
        self.stats = stats
        self.block_when_full = block_when_full
        self.on_commit = on_commit
        self.max_batch = max_batch
        self.space = threading.Condition()
        self._halt = threading.Event()
        self.error: BaseException | None = None
        self.busy = False
        self._leftover: list[RawMessage] = []

    def stop(self) -> None:
        """Ask the thread to finish (messages not yet committed stay unacknowledged)."""
        self._halt.set()
        with self.space:
            self.space.notify_all()

    def holding(self) -> bool:
        """Return whether messages taken from the intake wait for the next batch."""
        return bool(self._leftover)

    def run(self) -> None:
        """Take, process and commit batches until stopped."""
        try:
            while not self._halt.is_set():
                items = self._take()
                if items:
                    self.busy = True
                    self.process(items)
                    self.busy = False
        except BaseException as exc:  # surfaced by the app, which stops the gateway
            logger.exception("ingest stopped by an error")
            self.error = exc

    def _take(self) -> list[RawMessage]:
        limit = self.max_batch
        if self.block_when_full:  # take no more than fits, so the buffer fills up to its bound
            limit = max(1, min(limit, self.buffer.free()))
        items, self._leftover = self._leftover, []
        if not items:
            try:
                first = self.intake.get(timeout=0.1)
            except queue.Empty:
                return []
            items = list(first) if type(first) is list else [first]
        self.busy = True
        get = self.intake.get_nowait
        while len(items) < limit:
            try:
                item = get()
            except queue.Empty:
                break
            if type(item) is list:
                items.extend(item)
            else:
                items.append(item)
        if len(items) > limit:  # a list from the source overshot: keep the rest, in order
            items, self._leftover = items[:limit], items[limit:]
        return items

    def process(self, items: list[RawMessage]) -> None:
        """Normalize, sequence and commit ``items``; then acknowledge them."""
        lines: list[str] = []
        codes: list[str] = []
        counts: dict[tuple[str, str], int] = {}
        normalize, assign = self.normalizer.normalize, self.sequencer.assign
        for raw in items:
            source = raw.source
            try:  # the per-record boundary: no record may stop the stage
                res = normalize(raw)
                seq = (
                    None
                    if type(res) is Rejected
                    else assign(source, res.series, res.ts_ms, res.digest, raw.maybe_dup)
                )
            except Exception as exc:  # a defect, not the sender's: dead-letter it, say so, go on
                res = Rejected(f"gateway: unexpected {type(exc).__name__}: {exc}"[:500])
                logger.warning("%s message on %s set aside: %s", source, raw.topic, res.reason)
                logger.debug("the error", exc_info=True)
            if type(res) is Rejected:
                self.dead_letters.add(source, raw.topic, res.reason, raw.payload)
                counts[source, "dead_lettered"] = counts.get((source, "dead_lettered"), 0) + 1
                continue
            if seq is None:
                counts[source, "duplicates"] = counts.get((source, "duplicates"), 0) + 1
                continue
            if seq >= SEQ_LIMIT:
                self.dead_letters.add(source, raw.topic, "seq: too many records", raw.payload)
                counts[source, "dead_lettered"] = counts.get((source, "dead_lettered"), 0) + 1
                continue
            ts_ns = res.ts_ms * 1_000_000 + seq
            lines.append(f'{res.series} {res.fields},{SOURCE_FIELD}="{source}" {ts_ns}')
            codes.append(SOURCE_CODES[source])
        for raw in items:
            counts[raw.source, "records_in"] = counts.get((raw.source, "records_in"), 0) + 1
        for (source, name), n in counts.items():
            self.stats.add(source, name, n)
        if self.block_when_full and not self._wait_for_space(len(lines)):
            return  # stopping: nothing committed, nothing acknowledged
        changes, forget = self.sequencer.take_changes()
        chunk = (items[0].received_ns // 1_000_000, "".join(codes), lines) if lines else None
        dropped = self.buffer.append(chunk, changes, forget, self.normalizer.new_runs)
        self.normalizer.new_runs.clear()
        self.dead_letters.flush()
        if dropped:
            self.stats.bump("dropped", dropped)
            logger.warning("buffer full: dropped the %d oldest records", dropped)
        for raw in items:
            if raw.ack is not None:
                raw.ack()
        self.stats.buffered = len(self.buffer)
        self.on_commit()

    def _wait_for_space(self, n: int) -> bool:
        need = min(n, self.buffer.max_records)
        with self.space:
            while self.buffer.free() < need:
                if self._halt.is_set():
                    return False
                self.space.wait(timeout=0.5)
        return True

    def space_freed(self) -> None:
        """Called by the writer after it removed rows."""
        with self.space:
            self.space.notify_all()
