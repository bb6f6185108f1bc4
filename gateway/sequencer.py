"""Exactly-once in storage: number the records of a series that share a millisecond.

A stored point is identified by its series (measurement + tags) and its timestamp
``ts_ms * 1e6 + seq``. The sequencer gives each *distinct* record of a series-millisecond
("slot") the next ``seq`` in arrival order, and tells a repeat delivery apart from a new record:

- per source, the k-th arrival of identical content in a slot is the k-th occurrence of that
  content; if some source already stored that occurrence, it is a duplicate (both sources
  running at once store each record once);
- an arrival the transport flags as a possible repeat (MQTT ``dup`` or ``retain``) whose content
  this source already delivered in that slot is a duplicate.

Identical records in one slot (a buffer going 3 -> 4 -> 3 in one instant) therefore stay distinct,
and a redelivered message overwrites nothing. The state of the recent slots of each series is
persisted with the buffer in one transaction, so the numbering survives a gateway restart.
"""

from __future__ import annotations

import bisect
from collections import OrderedDict
from typing import NamedTuple

import orjson

HISTORY = 512
"""Slots kept in memory per series (a second source may lag the first by this many changes)."""

PERSISTED = 32
"""Slots persisted per series (enough for the redeliveries after a restart; cheaper commits)."""

LATE_BASE = 500_000
LATE_RANGE = 400_000
"""A record older than a series' kept slots cannot be numbered from what is known; it gets
``LATE_BASE + digest % LATE_RANGE``: far above the numbers given in order (so it overwrites no
other record), and the same for the same content (so a repeat still overwrites itself)."""


class _Slot:
    __slots__ = ("assigned", "counts", "ts_ms")

    def __init__(self, ts_ms: int) -> None:
        self.ts_ms = ts_ms
        self.assigned: list[int] = []  # content digest by seq
        self.counts: dict[str, dict[int, int]] = {}  # source -> digest -> arrivals


class _One(NamedTuple):
    """A slot holding one record from one source (the common case, kept small)."""

    ts_ms: int
    digest: int
    source: str

    def expand(self) -> _Slot:
        slot = _Slot(self.ts_ms)
        slot.assigned.append(self.digest)
        slot.counts[self.source] = {self.digest: 1}
        return slot


class Sequencer:
    """Assigns ``seq`` numbers and recognises duplicates; see the module docstring."""

    def __init__(self, max_series: int = 10_000) -> None:
        self.max_series = max_series
        self._series: OrderedDict[str, list[_Slot | _One]] = OrderedDict()
        self._dirty: set[str] = set()
        self._evicted: set[str] = set()
        self.late = 0
        """Records numbered by the late fallback (see ``LATE_BASE``)."""

    def assign(
        self, source: str, series: str, ts_ms: int, digest: int, maybe_dup: bool
    ) -> int | None:
        """Return the ``seq`` of this record, or ``None`` if it is a duplicate to skip."""
        slots = self._series.get(series)
        if slots and slots[-1].ts_ms < ts_ms:  # fast path: a later millisecond of a series
            slots.append(_One(ts_ms, digest, source))
            if len(slots) > HISTORY:
                del slots[0]
            self._series.move_to_end(series)
            self._dirty.add(series)
            return 0
        slot = self._slot(series, ts_ms)
        if slot is None:
            self.late += 1
            return LATE_BASE + digest % LATE_RANGE
        seen = slot.counts.setdefault(source, {})
        n = seen.get(digest, 0)
        if maybe_dup and n:
            return None
        seen[digest] = n + 1
        self._dirty.add(series)
        occurrence = 0
        for d in slot.assigned:
            if d == digest:
                occurrence += 1
                if occurrence == n + 1:
                    return None  # another source stored this occurrence already
        slot.assigned.append(digest)
        return len(slot.assigned) - 1

    def _slot(self, series: str, ts_ms: int) -> _Slot | None:
        slots = self._series.get(series)
        if slots is None:
            slots = self._series[series] = []
            if len(self._series) > self.max_series:
                old, _ = self._series.popitem(last=False)
                self._evicted.add(old)
                self._dirty.discard(old)
        else:
            self._series.move_to_end(series)
        for i in range(len(slots) - 1, -1, -1):
            slot = slots[i]
            if slot.ts_ms == ts_ms:
                if type(slot) is _One:
                    slot = slots[i] = slot.expand()
                return slot  # type: ignore[return-value]
            if slot.ts_ms < ts_ms:
                break
        slot = _Slot(ts_ms)
        if len(slots) >= HISTORY and ts_ms < slots[0].ts_ms:
            return None  # older than everything kept: unknown slot
        bisect.insort(slots, slot, key=_ts)  # usually at the end; a late arrival goes before
        del slots[:-HISTORY]
        return slot

    def take_changes(self) -> tuple[dict[str, bytes], set[str]]:
        """Return (series -> state to persist, series to forget) since the last call."""
        changed = {s: _dump(self._series[s]) for s in self._dirty if s in self._series}
        evicted = self._evicted - set(changed)
        self._dirty = set()
        self._evicted = set()
        return changed, evicted

    def load(self, series: str, state: bytes) -> None:
        """Restore one series' state saved by ``take_changes``."""
        slots: list[_Slot | _One] = []
        for ts_ms, assigned, counts in orjson.loads(state):
            slot = _Slot(ts_ms)
            slot.assigned = list(assigned)
            slot.counts = {src: {int(d): n for d, n in pairs} for src, pairs in counts.items()}
            slots.append(slot)
        self._series[series] = slots

    def __len__(self) -> int:
        return len(self._series)


def _ts(slot: _Slot | _One) -> int:
    return slot.ts_ms


def _dump(slots: list[_Slot | _One]) -> bytes:
    out = []
    for s in slots[-PERSISTED:]:
        if type(s) is _One:
            out.append([s.ts_ms, [s.digest], {s.source: [[s.digest, 1]]}])
        else:
            counts = {src: list(c.items()) for src, c in s.counts.items()}  # type: ignore[union-attr]
            out.append([s.ts_ms, s.assigned, counts])  # type: ignore[union-attr]
    return orjson.dumps(out)
