"""KPI windows on the data's own clock: UTC hours, UTC days and shift occurrences.

A window is identified by its kind and nominal start (epoch ms); that start is also the
timestamp of its KPI points, so recomputing a window overwrites its points. Hours and days are
aligned to UTC; shifts come from the run's ``ShiftChange`` records (a shift occurrence lasts from
its change to the next one). "Now" is always the time of the latest stored record, never the
host's clock: backfilled and sped-up runs have their own time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

HOUR_MS = 3_600_000
DAY_MS = 86_400_000
KINDS = ("hour", "shift", "day")


@dataclass(frozen=True, slots=True, order=True)
class Window:
    """One KPI window: ``[start_ms, end_ms)``; ``end_ms`` is None for a shift still running."""

    kind: str
    start_ms: int
    end_ms: int | None
    shift: str = ""

    @property
    def key(self) -> tuple[str, int]:
        """The window's identity: kind and nominal start."""
        return self.kind, self.start_ms

    def complete_at(self, latest_ms: int, settle_ms: int = 0) -> bool:
        """Tell whether data up to ``latest_ms`` covers the whole window, ``settle_ms`` beyond.

        Strictly after the end: records stamped exactly at the end belong to the next window,
        which only data beyond the end shows.
        """
        return self.end_ms is not None and latest_ms > self.end_ms + settle_ms


ShiftMarks = Sequence[tuple[int, str | None]]
"""Shift changes as ``(epoch ms, shift name or None for no shift)``, in time order."""


def floor_to(ms: int, step_ms: int) -> int:
    """Return ``ms`` rounded down to a multiple of ``step_ms`` (UTC alignment)."""
    return ms - ms % step_ms


def hour_of(ms: int) -> Window:
    """Return the UTC hour that holds ``ms``."""
    start = floor_to(ms, HOUR_MS)
    return Window("hour", start, start + HOUR_MS)


def day_of(ms: int) -> Window:
    """Return the UTC day that holds ``ms``."""
    start = floor_to(ms, DAY_MS)
    return Window("day", start, start + DAY_MS)


def shift_windows(marks: ShiftMarks) -> list[Window]:
    """Return every shift occurrence: from a named change to the next change (or open)."""
    out = []
    for i, (ms, name) in enumerate(marks):
        if name is None:
            continue
        end = marks[i + 1][0] if i + 1 < len(marks) else None
        if end is None or end > ms:
            out.append(Window("shift", ms, end, name))
    return out


def shift_at(marks: ShiftMarks, ms: int) -> Window | None:
    """Return the shift occurrence running at ``ms``, else the last one before it."""
    found = None
    for w in shift_windows(marks):
        if w.start_ms > ms:
            break
        found = w
    return found


def current_windows(latest_ms: int, marks: ShiftMarks) -> list[Window]:
    """Return the hour, the shift and the day that hold ``latest_ms`` (the data's "now").

    At an exact boundary the window that just ended is meant: its data is what is there.
    """
    at = max(latest_ms - 1, 0)
    out = [hour_of(at), day_of(at)]
    shift = shift_at(marks, at)
    if shift is not None:
        out.insert(1, shift)
    return out


def previous_windows(current: Iterable[Window], marks: ShiftMarks) -> list[Window]:
    """Return the window before each current one (same kind)."""
    out = []
    for w in current:
        if w.kind == "hour":
            out.append(hour_of(w.start_ms - 1))
        elif w.kind == "day":
            out.append(day_of(w.start_ms - 1))
        else:
            before = [s for s in shift_windows(marks) if s.start_ms < w.start_ms]
            if before:
                out.append(before[-1])
    return out


def windows_between(start_ms: int, end_ms: int, marks: ShiftMarks) -> list[Window]:
    """Return every hour, day and shift occurrence that overlaps ``[start_ms, end_ms)``."""
    out: list[Window] = []
    for step, kind in ((HOUR_MS, "hour"), (DAY_MS, "day")):
        t = floor_to(start_ms, step)
        while t < end_ms:
            out.append(Window(kind, t, t + step))
            t += step
    for w in shift_windows(marks):
        if w.start_ms < end_ms and (w.end_ms is None or w.end_ms > start_ms):
            out.append(w)
    return sorted(out, key=lambda w: (w.start_ms, w.kind))
