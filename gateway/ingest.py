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
import time
from collections.abc import Callable, Sequence

from gateway.buffer import SOURCE_CODES, DiskBuffer, HeldRecord, HoldChange
from gateway.deadletter import DeadLetters
from gateway.normalize import Accepted, Normalizer, RawMessage, Rejected
from gateway.record_numbers import RecentNumbers, identity_seq
from gateway.runs import RunKeeper
from gateway.sequencer import Sequencer
from gateway.stats import Stats
from plant_sim.telemetry_schema import NUMBER_FIELD, SEQ_LIMIT, SOURCE_FIELD

logger = logging.getLogger(__name__)


HELD = Rejected("held")
"""What ``Ingest._one`` returns for a message put in the hold (its run is not known)."""


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
        self.recent = RecentNumbers()
        self.runs = RunKeeper(normalizer, buffer)
        self._release: list[HeldRecord] = []  # held records whose run_start came

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
            self._release = self.buffer.held_of(self.normalizer.runs)
            while not self._halt.is_set():
                if self._release:
                    self._replay()
                    continue
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

    def _replay(self) -> None:
        """Process the held records of runs whose run_start came (released in the commit)."""
        batch, self._release = self._release[: self.max_batch], self._release[self.max_batch :]
        now_ns = time.time_ns()
        raws = [RawMessage(h.source, h.payload, h.topic, received_ns=now_ns) for h in batch]
        self.process(raws, [(h.id, len(h.payload)) for h in batch])

    def process(self, items: list[RawMessage], release: Sequence[tuple[int, int]] = ()) -> None:
        """Normalize, sequence and commit ``items``; then acknowledge them.

        ``release``: held records (id, size) that ``items`` replays, released in the commit.
        """
        lines: list[str] = []
        codes: list[str] = []
        counts: dict[tuple[str, str], int] = {}
        hold = HoldChange(release=list(release))
        used: set[str] = set()
        one = self._one
        for raw in items:
            source = raw.source
            line = one(raw, hold, used)
            if line is None or line is HELD:
                name = "duplicates" if line is None else "held"
                counts[source, name] = counts.get((source, name), 0) + 1
            elif type(line) is Rejected:
                self.dead_letters.add(source, raw.topic, line.reason, raw.payload)
                counts[source, "dead_lettered"] = counts.get((source, "dead_lettered"), 0) + 1
            else:
                lines.append(line)  # type: ignore[arg-type]
                codes.append(SOURCE_CODES[source])
        for raw in items if not release else ():  # a replay was counted when it came
            counts[raw.source, "records_in"] = counts.get((raw.source, "records_in"), 0) + 1
        for (source, name), n in counts.items():
            self.stats.add(source, name, n)
        if self.block_when_full and not self._wait_for_space(len(lines)):
            return  # stopping: nothing committed, nothing acknowledged
        changes, forget = self.sequencer.take_changes()
        chunk = (items[0].received_ns // 1_000_000, "".join(codes), lines) if lines else None
        new_runs = [run_id for run_id, _ in self.normalizer.new_runs]
        dropped = self.buffer.append(chunk, changes, forget, self.normalizer.new_runs, hold)
        self.normalizer.new_runs.clear()
        self._after_commit(hold, new_runs, used)
        self.dead_letters.flush()
        if dropped:
            self.stats.bump("dropped", dropped)
            logger.warning("buffer full: dropped the %d oldest records", dropped)
        for raw in items:
            if raw.ack is not None:
                raw.ack()
        self.stats.buffered = len(self.buffer)
        self.on_commit()

    def _one(self, raw: RawMessage, hold: HoldChange, used: set[str]) -> str | Rejected | None:
        """Return the line of one message, ``HELD``, None for a copy, or why it is refused.

        The per-record boundary: no record may stop the stage; an unexpected error is the
        gateway's defect, not the sender's: the message is dead-lettered, the log says so.
        """
        try:
            res = self.normalizer.normalize(raw)
            if type(res) is Rejected:
                return res
            used.add(res.run_id)
            checked = self._unless_held(res, raw, hold)
            if checked is None:
                return HELD
            return checked if type(checked) is Rejected else self._line(checked, raw)
        except Exception as exc:
            reason = Rejected(f"gateway: unexpected {type(exc).__name__}: {exc}"[:500])
            logger.warning("%s message on %s set aside: %s", raw.source, raw.topic, reason.reason)
            logger.debug("the error", exc_info=True)
            return reason

    def _unless_held(
        self, res: Accepted, raw: RawMessage, hold: HoldChange
    ) -> Accepted | Rejected | None:
        """Return the record checked against its run's run_start, or None when it is held.

        A record of a run whose run_start the gateway has not seen is not stored unchecked:
        it waits in the hold (``runs``) until the run_start comes.
        """
        if res.kind == "run_start" or res.run_id in self.normalizer.runs:
            return res
        if not self.runs.known(res.run_id):
            hold.add.append((res.run_id, raw.source, raw.topic, raw.payload))
            return None
        return self.normalizer.normalize(raw)  # its run_start was on disk: checked now

    def _after_commit(self, hold: HoldChange, new_runs: list[str], used: set[str]) -> None:
        """Dead-letter what the full hold let go; release the held records of new runs."""
        for h in hold.evicted:
            reason = f"run_id: no run_start of run {h.run_id!r} came while it was held (hold full)"
            self.dead_letters.add(h.source, h.topic, reason[:300], h.payload)
            self.stats.add(h.source, "dead_lettered")
        if hold.evicted:
            logger.warning("hold full: %d held records dead-lettered", len(hold.evicted))
        if new_runs:
            self.runs.learned(new_runs)
            released = {i for i, _ in hold.release}
            self._release += [h for h in self.buffer.held_of(new_runs) if h.id not in released]
        self.runs.used(used)

    def _line(self, res: Accepted, raw: RawMessage) -> str | Rejected | None:
        """Return the point's line, or None for a copy of a stored record.

        A record the producer numbered (``n``) gets its identity from that number, with no
        memory needed (``record_numbers``); any other is numbered by the sequencer.
        """
        n = res.n
        if n is not None:
            if self.recent.seen(res.run_id, n):
                return None
            seq = identity_seq(n)
            extra = f",{NUMBER_FIELD}={n}i"
        else:
            seq = self.sequencer.assign(
                raw.source, res.series, res.ts_ms, res.digest, raw.maybe_dup
            )
            if seq is None:
                return None
            if seq >= SEQ_LIMIT:
                return Rejected("seq: too many records")
            extra = ""
        ts_ns = res.ts_ms * 1_000_000 + seq
        return f'{res.series} {res.fields}{extra},{SOURCE_FIELD}="{raw.source}" {ts_ns}'

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
