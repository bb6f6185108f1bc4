"""Work calendar: when a station may work, and what it is when it may not.

The calendar is a lazy, ordered stream of non-working periods ``(start_s, end_s, state, reason)``
built day by day from shifts, breaks, days off and maintenance windows. Outside every shift a
station is OFF_SHIFT (outside planned operation time); breaks and maintenance inside shifts are
PLANNED_DOWNTIME. Without a calendar the plant works 24/7 apart from maintenance windows.

Times of day are the plant's local wall-clock times. Without a time zone a day is 86,400 s
(UTC). With one (``LocalDays``), each local day starts at its own local midnight and a time of
day is converted through the zone, so a shift that spans a daylight-saving change is an hour
shorter or longer; a time in the spring-forward gap counts as the instant it would have been
on the clock before the jump (``fold=0``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from plant_sim.scenario import WEEKDAYS, CalendarSpec
from plant_sim.states import StationState

DAY_S = 86400.0


@dataclass(frozen=True, slots=True)
class Pause:
    """A period in which a station does not work."""

    start: float
    end: float
    state: StationState
    reason: str


@dataclass(frozen=True, slots=True)
class ShiftWindow:
    """One occurrence of a shift."""

    start: float
    end: float
    name: str


class LocalDays:
    """Local days of a time zone, counted from the local day that holds simulation time 0."""

    def __init__(self, start: datetime, zone: str) -> None:
        self._start = start
        local = start.astimezone(ZoneInfo(zone))
        self._midnight = local.replace(hour=0, minute=0, second=0, microsecond=0, fold=0)
        self.weekday0 = local.weekday()

    def at(self, day: int, seconds: float) -> float:
        """Simulation time of the wall-clock time ``seconds`` after midnight of local ``day``.

        ``seconds`` may pass 24 h (a shift past midnight ends on the next day's wall clock).
        Aware datetime arithmetic in Python is wall-clock arithmetic; the zone's offset at the
        resulting wall time then gives the instant.
        """
        wall = self._midnight + timedelta(days=day, seconds=seconds)
        return (wall - self._start).total_seconds()


class WorkCalendar:
    """The calendar of one station: shifts, breaks, days off and its maintenance windows."""

    def __init__(
        self,
        spec: CalendarSpec | None,
        start_weekday: int,
        start_offset_s: float,
        maintenance: list[tuple[float, float, str]],
        local: LocalDays | None = None,
    ) -> None:
        """``start_offset_s``: seconds after midnight at simulation time 0 (UTC days);
        ``local``: the plant's local days instead (a scenario with a time zone)."""
        self._spec = spec
        self._weekday0 = start_weekday if local is None else local.weekday0
        self._offset = start_offset_s
        self._maintenance = sorted(maintenance)
        self._local = local

    def pauses(self) -> Iterator[Pause]:
        """Yield the non-working periods in time order, merged, from time 0 on."""
        if self._spec is None:
            yield from self._merge(
                Pause(s, e, StationState.PLANNED_DOWNTIME, r) for s, e, r in self._maintenance
            )
            return
        yield from self._merge(self._pauses_by_day())

    def shifts(self) -> Iterator[ShiftWindow]:
        """Yield every shift occurrence in time order (none without a calendar)."""
        if self._spec is None or len(set(self._spec.days_off)) == len(WEEKDAYS):
            return
        day = -1
        while True:
            for window in sorted(self._shift_windows(day), key=lambda w: w.start):
                if window.end > 0:
                    yield ShiftWindow(max(window.start, 0.0), window.end, window.name)
            day += 1

    # -- internals ---------------------------------------------------------------------------

    def _day_start(self, day: int) -> float:
        """Simulation time of midnight starting day ``day`` (day 0 holds time 0)."""
        if self._local is not None:
            return self._local.at(day, 0.0)
        return day * DAY_S - self._offset

    def _at(self, day: int, seconds: float) -> float:
        """Simulation time of the time of day ``seconds`` on day ``day``."""
        if self._local is not None:
            return self._local.at(day, seconds)
        return self._day_start(day) + seconds

    def _shift_windows(self, day: int) -> list[ShiftWindow]:
        spec = self._spec
        assert spec is not None
        if WEEKDAYS[(self._weekday0 + day) % 7] in spec.days_off:
            return []
        out = []
        for shift in spec.shifts:
            end = shift.end if shift.end > shift.start else shift.end + DAY_S
            out.append(ShiftWindow(self._at(day, shift.start), self._at(day, end), shift.name))
        return out

    def _pauses_by_day(self) -> Iterator[Pause]:
        last_maintenance = max((e for _, e, _ in self._maintenance), default=0.0)
        day, quiet_days = 0, 0
        while True:
            pauses = self._pauses_of_day(day)
            yield from pauses
            quiet_days = 0 if pauses else quiet_days + 1
            # The week repeats: seven quiet days past the last maintenance mean no more pauses.
            if quiet_days >= 7 and self._day_start(day) > last_maintenance:
                return
            day += 1

    def _pauses_of_day(self, day: int) -> list[Pause]:
        """Classify every elementary segment of day ``day`` (clipped to time >= 0)."""
        spec = self._spec
        assert spec is not None
        lo, hi = max(self._day_start(day), 0.0), self._day_start(day + 1)
        if hi <= 0:
            return []
        working = [(w.start, w.end) for d in (day - 1, day) for w in self._shift_windows(d)]
        breaks = [
            (self._at(d, b.start), self._at(d, b.start) + b.duration)
            for d in (day - 1, day)
            for b in spec.breaks
        ]
        maint = [(s, e) for s, e, _ in self._maintenance if s < hi and e > lo]
        cuts = {lo, hi}
        for s, e in working + breaks + maint:
            cuts.update(x for x in (s, e) if lo < x < hi)
        edges = sorted(cuts)
        day_off = WEEKDAYS[(self._weekday0 + day) % 7] in spec.days_off
        out = []
        for a, b in pairwise(edges):
            mid = (a + b) / 2.0
            if not any(s <= mid < e for s, e in working):
                out.append(
                    Pause(a, b, StationState.OFF_SHIFT, "day_off" if day_off else "off_shift")
                )
            elif any(s <= mid < e for s, e in maint):
                reason = next(r for s, e, r in self._maintenance if s <= mid < e)
                out.append(Pause(a, b, StationState.PLANNED_DOWNTIME, reason))
            elif any(s <= mid < e for s, e in breaks):
                out.append(Pause(a, b, StationState.PLANNED_DOWNTIME, "break"))
        return out

    @staticmethod
    def _merge(pauses: Iterator[Pause]) -> Iterator[Pause]:
        """Join touching pauses of the same state and reason."""
        current: Pause | None = None
        for p in pauses:
            if p.end <= p.start:
                continue
            if (
                current
                and p.start <= current.end
                and (p.state, p.reason)
                == (
                    current.state,
                    current.reason,
                )
            ):
                current = Pause(current.start, max(current.end, p.end), p.state, p.reason)
                continue
            if current:
                yield current
            current = p
        if current:
            yield current


class PauseCursor:
    """A station's position in its work calendar; simulation time only moves forward.

    The start of the next pause is kept in ``next_start`` (``inf`` when none) so the station's
    hot path reads one attribute.
    """

    __slots__ = ("_calendar", "_next", "_pauses", "next_start")

    def __init__(self, calendar: WorkCalendar) -> None:
        self._calendar = calendar
        self._pauses = calendar.pauses()
        self._next: Pause | None = next(self._pauses, None)
        self.next_start = math.inf if self._next is None else self._next.start

    def _skip_past(self, now: float) -> None:
        nxt = self._next
        if nxt is None or nxt.end > now:
            return
        while nxt is not None and nxt.end <= now:
            nxt = next(self._pauses, None)
        self._next = nxt
        self.next_start = math.inf if nxt is None else nxt.start

    def upcoming(self) -> Iterator[Pause]:
        """A fresh iterator over every pause of the calendar (for a watcher process)."""
        return self._calendar.pauses()

    def pause_at(self, now: float) -> Pause | None:
        """Return the pause covering ``now``, or None when the station may work."""
        self._skip_past(now)
        nxt = self._next
        if nxt is not None and nxt.start <= now:
            return nxt
        return None

    def work_left(self, now: float) -> float:
        """Seconds of work left before the next pause (``inf`` if none); 0 inside a pause."""
        if now < self.next_start:  # the next pause ends after it starts: nothing to skip
            return self.next_start - now
        self._skip_past(now)
        nxt = self._next
        if nxt is None:
            return math.inf
        return max(nxt.start - now, 0.0)
