"""Record numbers the gateway stored lately: skips a second copy without writing it again.

A record whose producer numbered it (payload field ``n``) is one point whatever happens: its
timestamp is ``ts_ms * 1e6 + n % 1e6`` (``identity_seq``), so a resend or the copy from the
other source overwrites that point with the same values. Nothing needs to be remembered for that.
``RecentNumbers`` is only a saving: it remembers, per run, which numbers of a sliding window were
stored, so a copy within the window is counted as a duplicate and not written at all. It is
bounded (``WINDOW`` numbers per run, ``MAX_RUNS`` runs: 2 MiB at most); what it forgets is
written again, harmlessly.
"""

from __future__ import annotations

from collections import OrderedDict

from plant_sim.telemetry_schema import SEQ_LIMIT

WINDOW = 1 << 20
"""Record numbers remembered per run (a bit each)."""

MAX_RUNS = 16
"""Runs remembered at once (least recently seen forgotten first)."""


def identity_seq(n: int) -> int:
    """Return the sub-millisecond part of the timestamp of the record numbered ``n``.

    Two records of one series share a point only if they share the millisecond and their
    numbers differ by a multiple of ``SEQ_LIMIT`` (a million records emitted in between while
    the simulation clock stayed in that millisecond).
    """
    return n % SEQ_LIMIT


class _RunWindow:
    __slots__ = ("base", "bits")

    def __init__(self, base: int) -> None:
        self.base = base
        self.bits = bytearray(WINDOW // 8)

    def mark(self, n: int) -> bool:
        """Mark ``n``; return whether it was marked before (``False`` when below the window)."""
        if n < self.base:
            return False
        if n >= self.base + WINDOW:
            self._slide(n - WINDOW // 2)
        offset = n - self.base
        byte, bit = offset >> 3, 1 << (offset & 7)
        seen = bool(self.bits[byte] & bit)
        self.bits[byte] |= bit
        return seen

    def _slide(self, new_base: int) -> None:
        new_base -= new_base % 8
        shift = (new_base - self.base) // 8
        if shift >= len(self.bits):
            self.bits = bytearray(len(self.bits))
        else:
            self.bits = self.bits[shift:] + bytearray(shift)
        self.base = new_base


class RecentNumbers:
    """Per run, the record numbers stored lately; see the module docstring."""

    def __init__(self, max_runs: int = MAX_RUNS) -> None:
        self.max_runs = max_runs
        self._runs: OrderedDict[str, _RunWindow] = OrderedDict()

    def seen(self, run_id: str, n: int) -> bool:
        """Remember ``n`` of ``run_id``; return whether it was stored lately (a duplicate)."""
        window = self._runs.get(run_id)
        if window is None:
            window = self._runs[run_id] = _RunWindow(max(0, n - WINDOW // 2))
            while len(self._runs) > self.max_runs:
                self._runs.popitem(last=False)
        else:
            self._runs.move_to_end(run_id)
        return window.mark(n)

    def __len__(self) -> int:
        return len(self._runs)
