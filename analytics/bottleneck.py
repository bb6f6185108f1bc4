"""Bottleneck detection by the active period method (Roser, Nakano & Tanaka 2001/2002).

Each station is *active* (processing, setup, minor stop, down) or *waiting* (starved, blocked,
idle); off shift and planned downtime are excluded and end an active period
(``STATE_INFO[...].active``). Per line over a window:

- average method: the station with the longest mean active period is the bottleneck;
- momentary method: at each instant the station whose current active period is longest (full
  length of the period) is the momentary bottleneck. When the bottleneck passes from one
  station to another and their active periods overlap, the overlap is a *shifting* bottleneck
  for both; the rest of a station's momentary-bottleneck time is *sole*. Shares are of the
  line's working time (time any station of the line is not excluded). The station with the
  largest sole + shifting share is the line's bottleneck.

Blocked and starved ratios (of each station's working time) are reported beside them.

``LineBottlenecks`` folds the analysis while a run streams, holding only what is still open
(not the records); ``detect_bottlenecks`` adds whole columns to one, so both give the same
figures to the bit. Every sum is added in time order (``running_sum``, ``np.add.at``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from analytics.columns import MATERIAL_STARVED, STATE_CODES, StationColumns
from analytics.kpis import ratio
from analytics.timeline import ACTIVE_CLASS, running_sum, sorted_unique
from plant_sim.states import StationState

_CHUNK = 25_000
#: Period boundaries per time window of the momentary method (see ``LineBottlenecks``).
_WINDOW = 100_000
#: Active periods held by a line above which those that cannot be the bottleneck are dropped.
_LOSERS_AT = 256
_BLOCKED = STATE_CODES[StationState.BLOCKED]
_STARVED = STATE_CODES[StationState.STARVED]


@dataclass(frozen=True, slots=True)
class StationBottleneck:
    """Active-period figures of one station over the window."""

    station: str
    avg_active_period_s: float | None
    active_ratio: float | None
    blocked_ratio: float | None
    starved_ratio: float | None
    sole_bottleneck_ratio: float | None
    shifting_bottleneck_ratio: float | None

    @property
    def bottleneck_ratio(self) -> float | None:
        """Sole plus shifting share."""
        if self.sole_bottleneck_ratio is None or self.shifting_bottleneck_ratio is None:
            return None
        return self.sole_bottleneck_ratio + self.shifting_bottleneck_ratio


@dataclass(frozen=True, slots=True)
class BottleneckResult:
    """Bottleneck analysis of one line over one window."""

    line: str
    stations: list[StationBottleneck]
    average_bottleneck: str | None  # longest mean active period
    momentary_bottleneck: str | None  # largest sole + shifting share
    shifting_ratio: float | None  # share of working time the bottleneck was shifting
    working_s: float


def _overlap(
    a0: np.ndarray, a1: np.ndarray, b0: np.ndarray | float, b1: np.ndarray | float
) -> np.ndarray:
    """Return the overlap length of intervals ``[a0, a1)`` and ``[b0, b1)``, elementwise."""
    return np.maximum(0.0, np.minimum(a1, b1) - np.maximum(a0, b0))


def _closed_runs(
    t: np.ndarray, mask: np.ndarray, open_from: float | None
) -> tuple[np.ndarray, np.ndarray, float | None]:
    """Return the runs where ``mask`` holds that end within ``t`` and the start of the run
    still open at ``t[-1]`` (None: none).

    Interval *i* is ``[t[i], t[i+1])``; the last one's end is not known yet. ``open_from`` is
    the start of the run open at ``t[0]`` (when ``t[0]`` is the record before these), which
    may lie before ``t[0]``. Runs of length 0 are dropped.
    """
    prev = np.concatenate([[False], mask[:-1]])
    first = np.flatnonzero(mask & ~prev)
    starts = t[first]
    if open_from is not None and len(first) and first[0] == 0:
        starts[0] = open_from
    stop = np.flatnonzero(mask[:-1] & ~mask[1:])
    ends = t[stop + 1]
    still_open = float(starts[-1]) if mask[-1] else None
    starts = starts[: len(stop)]
    keep = ends > starts
    return starts[keep], ends[keep], still_open


@dataclass(slots=True)
class _Runs:
    """Closed runs of one station in time order (disjoint, sorted) with their index among
    all the station's runs (``ids``: the runs not needed any more are dropped)."""

    starts: np.ndarray = field(default_factory=lambda: np.empty(0))
    ends: np.ndarray = field(default_factory=lambda: np.empty(0))
    ids: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    count: int = 0  # runs ever added

    def append(self, starts: np.ndarray, ends: np.ndarray) -> None:
        """Add runs that come after the ones held."""
        if len(starts):
            self.starts = np.concatenate([self.starts, starts])
            self.ends = np.concatenate([self.ends, ends])
            self.ids = np.concatenate([self.ids, np.arange(self.count, self.count + len(starts))])
            self.count += len(starts)

    def take_before(self, t: float) -> tuple[np.ndarray, np.ndarray]:
        """Remove and return the runs that start before ``t``."""
        k = int(np.searchsorted(self.starts, t, "left"))
        out = self.starts[:k], self.ends[:k]
        self._drop(k)
        return out

    def drop_ended(self, t: float) -> None:
        """Drop the runs that end at or before ``t`` (they cover nothing from ``t`` on)."""
        self._drop(int(np.searchsorted(self.ends, t, "right")))

    def drop_shorter(self, a: float, b: float) -> None:
        """Drop the runs inside ``[a, b]`` shorter than ``b - a``."""
        lo = int(np.searchsorted(self.starts, a, "left"))
        hi = int(np.searchsorted(self.ends, b, "right"))
        if hi > lo:
            keep = np.ones(len(self.starts), bool)
            keep[lo:hi] = self.ends[lo:hi] - self.starts[lo:hi] >= b - a
            if not keep.all():
                self.starts, self.ends = self.starts[keep], self.ends[keep]
                self.ids = self.ids[keep]

    def _drop(self, k: int) -> None:
        if k:  # copies, so the dropped part's memory is freed
            self.starts, self.ends = self.starts[k:].copy(), self.ends[k:].copy()
            self.ids = self.ids[k:].copy()


class _StationFold:
    """What one station keeps while its records come: its last record, the starts of its open
    active period and work run, its closed active periods that may still be the momentary
    bottleneck, its closed work runs not yet merged into the line's working time, and its
    figures' running sums (in time order)."""

    __slots__ = (
        "active_from",
        "active_s",
        "blocked_s",
        "last_code",
        "last_t",
        "periods",
        "periods_n",
        "starved_s",
        "work",
        "work_from",
        "working_s",
    )

    def __init__(self) -> None:
        self.last_t: float | None = None
        self.last_code = -1
        self.active_from: float | None = None  # start of the open active period
        self.work_from: float | None = None  # start of the open work run
        self.periods = _Runs()
        self.work = _Runs()
        self.working_s = self.blocked_s = self.starved_s = self.active_s = 0.0
        self.periods_n = 0  # active periods with a part inside the window

    def frontier(self, open_from: float | None, known: float) -> float:
        """Return the earliest time a run not closed yet may start: the open run's start, else
        the next record's time, which is no earlier than the last record nor than ``known``
        (every record before it is in)."""
        if open_from is not None:
            return open_from
        return known if self.last_t is None else max(self.last_t, known)

    def add(self, t: np.ndarray, code: np.ndarray, t0: float, t1: float) -> None:
        """Take the station's next records (in time order)."""
        if not len(t):
            return
        if self.last_t is not None:
            t = np.concatenate([[self.last_t], t])
            code = np.concatenate([np.array([self.last_code], code.dtype), code])
        self._sum_intervals(t[:-1], t[1:], code[:-1], t0, t1)
        cls = ACTIVE_CLASS[code]
        starts, ends, self.active_from = _closed_runs(t, cls == 1, self.active_from)
        self._close_periods(starts, ends, t0, t1)
        starts, ends, self.work_from = _closed_runs(t, cls >= 0, self.work_from)
        self.work.append(starts, ends)
        self.last_t, self.last_code = float(t[-1]), int(code[-1])

    def close(self, end_s: float, t0: float, t1: float) -> None:
        """End the last interval and the open runs at the run end ``end_s``."""
        if self.last_t is None:
            return
        end = max(end_s, self.last_t)
        ends = np.array([end])
        self._sum_intervals(np.array([self.last_t]), ends, np.array([self.last_code]), t0, t1)
        if self.active_from is not None:
            self._close_periods(np.array([self.active_from]), ends, t0, t1)
        if self.work_from is not None and end > self.work_from:
            self.work.append(np.array([self.work_from]), ends)
        self.active_from = self.work_from = None

    def _sum_intervals(
        self, s: np.ndarray, e: np.ndarray, code: np.ndarray, t0: float, t1: float
    ) -> None:
        """Add closed intervals to the working, blocked and starved seconds."""
        dur = _overlap(s, e, t0, t1)
        self.working_s = running_sum(dur[ACTIVE_CLASS[code] >= 0], self.working_s)
        self.blocked_s = running_sum(dur[code == _BLOCKED], self.blocked_s)
        starved = (code == _STARVED) | (code == MATERIAL_STARVED)  # not ``np.isin``: slower here
        self.starved_s = running_sum(dur[starved], self.starved_s)

    def _close_periods(self, s: np.ndarray, e: np.ndarray, t0: float, t1: float) -> None:
        """Count closed active periods; keep those that may cover a time before ``t1``."""
        keep = e > s
        s, e = s[keep], e[keep]
        inside = _overlap(s, e, t0, t1)
        inside = inside[inside > 0]
        self.active_s = running_sum(inside, self.active_s)
        self.periods_n += len(inside)
        before = s < t1
        self.periods.append(s[before], e[before])


@dataclass(slots=True)
class _Run:
    """The last run of momentary-bottleneck segments found (one-element arrays), held until
    the next one starts (its end): its start, station, period index and period."""

    start: np.ndarray
    who: np.ndarray
    pid: np.ndarray
    p_start: np.ndarray
    p_end: np.ndarray


class LineBottlenecks:
    """The bottleneck analysis of one line over ``[t0, t1)``, folded while records come.

    ``add(j, t, code)`` takes station *j*'s next state records (time order per station,
    stations in any order); ``result(end_s)`` returns what ``detect_bottlenecks`` returns for
    all of them, to the bit, whatever the chunks: every sum is added in time order. Held:
    per station its last record, the closed active periods that may still cover a time not
    worked through, the work runs not merged yet, and running sums. The momentary method is
    worked through up to the *frontier*, the earliest time a period not closed yet may
    start (``_StationFold.frontier``): before it every segment's bottleneck is final. A
    station quiet since its last record holds the frontier back there, unless
    ``known_until`` says every record up to a later time is in. ``t1`` None: the run end (records
    must not come after it).
    """

    def __init__(
        self, line: str, stations: Sequence[str], t0: float, t1: float | None = None
    ) -> None:
        self.line = line
        self.stations = list(stations)
        self.t0 = float(t0)
        self.t1 = np.inf if t1 is None else float(t1)
        self._t1_given = t1 is not None
        n = len(self.stations)
        self._folds = [_StationFold() for _ in range(n)]
        self._done = self.t0  # segments before this are worked through
        self._last: tuple[int, int] | None = None  # (station, period) of the last segment
        self._held: _Run | None = None
        self._cut = (np.zeros(1), np.zeros(1), np.zeros(1, bool))  # pair before the held run
        self._sole, self._early, self._late = np.zeros(n), np.zeros(n), np.zeros(n)
        self._group: tuple[float, float] | None = None  # merged work interval still open
        self._working_s = 0.0
        self._merged = -np.inf  # work runs starting before this are merged
        self._known = -np.inf  # every record before this is in (``known_until``)

    def add(self, station: int, t: np.ndarray, code: np.ndarray) -> None:
        """Take station ``station``'s next state records (times and codes, in time order)."""
        fold = self._folds[station]
        for lo in range(0, len(t), _CHUNK):
            fold.add(t[lo : lo + _CHUNK], code[lo : lo + _CHUNK], self.t0, self.t1)
        self._step()

    def known_until(self, t: float) -> None:
        """Note that every record before ``t`` is in: a station quiet since its last record
        stays in its state until ``t`` at least, so it no longer holds the frontier back
        there (without this, a station waiting for days holds every period after its last
        record)."""
        if t > self._known:
            self._known = float(t)
            self._step()

    def _step(self) -> None:
        """Merge the work runs, drop the periods that cannot win and work the momentary
        method through, as far as the records in allow."""
        known = self._known
        upto = min(f.frontier(f.work_from, known) for f in self._folds)
        if upto > self._merged:  # else no run to merge has come
            self._merge_work(upto)
        if sum(len(f.periods.starts) for f in self._folds) > _LOSERS_AT:
            self._drop_losers()
        self._advance(min(f.frontier(f.active_from, known) for f in self._folds))

    def held(self) -> int:
        """Return the number of active periods and work runs held."""
        return sum(len(f.periods.starts) + len(f.work.starts) for f in self._folds)

    def result(self, end_s: float) -> BottleneckResult:
        """Return the analysis, the run ending at ``end_s`` (the window's end too, unless
        given at the start). Once: the open runs are closed."""
        if not self._t1_given:
            self.t1 = float(end_s)
        for f in self._folds:
            f.close(end_s, self.t0, self.t1)
        self._merge_work(np.inf)
        self._advance(np.inf)
        none, no_index = np.empty(0), np.empty(0, np.int64)
        self._settle(none, no_index, no_index, none, none, self.t1)
        return self._rows()

    def _drop_losers(self) -> None:
        """Drop the closed periods that lie inside the open active period holding the
        frontier back and are shorter than it is already: they are never the momentary
        bottleneck, and without them the segments change only where the runs join them
        again. So a long open period (the bottleneck's) does not make the others' periods
        pile up."""
        fx = min(self._folds, key=lambda f: f.frontier(f.active_from, self._known))
        if fx.active_from is None or fx.last_t is None:
            return
        for fy in self._folds:
            if fy is not fx:
                fy.periods.drop_shorter(fx.active_from, fx.last_t)

    def _merge_work(self, upto: float) -> None:
        """Merge the work runs that start before ``upto`` (all that ever will) into the
        line's working time (the union of the runs), each merged group added once it is closed."""
        self._merged = upto
        s, e = zip(*(f.work.take_before(upto) for f in self._folds), strict=True)
        s = np.maximum(np.concatenate(s), self.t0)
        e = np.minimum(np.concatenate(e), self.t1)
        keep = e > s
        order = np.argsort(s[keep], kind="stable")
        s, e = s[keep][order], e[keep][order]
        if self._group is not None:
            s, e = np.concatenate([[self._group[0]], s]), np.concatenate([[self._group[1]], e])
        if not len(s):
            return
        e = np.maximum.accumulate(e)
        first = np.flatnonzero(np.concatenate([[True], s[1:] > e[:-1]]))
        last = np.concatenate([first[1:] - 1, [len(s) - 1]])
        g_start, g_end = s[first], e[last]
        closed = g_end < upto  # a run starting later (at ``upto`` or after) cannot join it
        self._working_s = running_sum(g_end[closed] - g_start[closed], self._working_s)
        self._group = None if closed[-1] else (float(g_start[-1]), float(g_end[-1]))

    def _advance(self, upto: float) -> None:
        """Work the momentary method through the segments before ``upto`` (and ``t1``), in
        time windows of about ``_WINDOW`` period boundaries."""
        stop = min(upto, self.t1)
        while self._done < stop and np.isfinite(stop):
            a = self._done
            bounds = sum(
                int(np.searchsorted(arr, stop, "left") - np.searchsorted(arr, a, "left"))
                for f in self._folds
                for arr in (f.periods.starts, f.periods.ends)
            )
            b = a + (stop - a) / -(-bounds // _WINDOW) if bounds > _WINDOW else stop
            b = stop if b <= a else b
            self._work_through(a, b)
            self._done = b
            for f in self._folds:
                f.periods.drop_ended(b)

    def _work_through(self, a: float, b: float) -> None:
        """Find the momentary bottleneck of the segments in ``[a, b)`` and settle its runs.

        Segments start at ``a`` and at every period boundary in ``[a, b)``; a cut that is no
        boundary (``a``, a chunk's edge) splits a segment in two with the same bottleneck,
        which the runs join again, so the runs do not depend on the cuts."""
        pts = [np.array([a])]
        for f in self._folds:
            for arr in (f.periods.starts, f.periods.ends):
                lo, hi = np.searchsorted(arr, [a, b], "left").tolist()
                pts.append(arr[lo:hi])
        seg = sorted_unique(np.concatenate(pts))
        del pts
        for lo in range(0, len(seg), _CHUNK):
            chunk = seg[lo : lo + _CHUNK]
            who, pid, p_start, p_end = self._longest(chunk)
            change = np.empty(len(chunk), bool)
            change[0] = (int(who[0]), int(pid[0])) != self._last
            change[1:] = (who[1:] != who[:-1]) | (pid[1:] != pid[:-1])
            self._last = (int(who[-1]), int(pid[-1]))
            at = np.flatnonzero(change)
            self._settle(chunk[at], who[at], pid[at], p_start[at], p_end[at], None)

    def _longest(self, seg: np.ndarray) -> tuple[np.ndarray, ...]:
        """Return, per segment start, the station with the longest covering period (-1:
        none), the period's index and its start and end (0.0 for none).

        ``seg`` is sorted and each station's periods are sorted and disjoint, so the last
        period starting at or before ``seg[i]`` is found by counting period starts (a
        cumulative sum over ``seg``); ties go to the first station."""
        n = len(seg)
        best = np.zeros(n)
        who = np.full(n, -1, np.int64)
        pid = np.full(n, -1, np.int64)
        p_start, p_end = np.zeros(n), np.zeros(n)
        for j, f in enumerate(self._folds):
            p = f.periods
            lo = int(np.searchsorted(p.ends, seg[0], "right"))  # the first not over
            hi = int(np.searchsorted(p.starts, seg[-1], "right"))
            if hi <= lo:
                continue
            starts, ends = p.starts[lo:hi], p.ends[lo:hi]
            first = np.searchsorted(seg, starts, "left")  # first segment at or after a start
            # k = 1 + index of the last period starting at or before each segment; 0 = none,
            # which the padding (length 0, end -inf) never lets cover a segment.
            k = np.cumsum(np.bincount(first, minlength=n + 1)[:n])
            length = np.concatenate([[0.0], ends - starts])[k]
            better = (length > best) & (seg < np.concatenate([[-np.inf], ends])[k])
            best[better] = length[better]
            who[better] = j
            k = k[better] - 1
            pid[better] = p.ids[lo:hi][k]
            p_start[better], p_end[better] = starts[k], ends[k]
        return who, pid, p_start, p_end

    def _settle(
        self,
        start: np.ndarray,
        who: np.ndarray,
        pid: np.ndarray,
        p_start: np.ndarray,
        p_end: np.ndarray,
        end: float | None,
    ) -> None:
        """Add the sole and shifting time of new runs (in time order) after the held one.

        A run's end is the next run's start, so the last run is held until the next comes
        (or the window's end ``end``). The overlap of consecutive bottleneck periods on
        different stations is shifting time for both (added to the earlier station in
        ``_early``, the later in ``_late``, each in time order) and is cut from each run's
        sole time."""
        h = self._held
        if h is not None:
            start = np.concatenate([h.start, start])
            who, pid = np.concatenate([h.who, who]), np.concatenate([h.pid, pid])
            p_start = np.concatenate([h.p_start, p_start])
            p_end = np.concatenate([h.p_end, p_end])
        runs_n = len(start)
        if runs_n == 0 or (end is None and runs_n == 1):
            self._held = _Run(start, who, pid, p_start, p_end) if runs_n else None
            return
        t0, t1 = self.t0, self.t1
        pair = (who[:-1] >= 0) & (who[1:] >= 0) & (who[:-1] != who[1:])
        ov_s = np.clip(np.maximum(p_start[:-1], p_start[1:]), t0, t1)
        ov_e = np.clip(np.minimum(p_end[:-1], p_end[1:]), t0, t1)
        ov = np.where(pair, np.maximum(0.0, ov_e - ov_s), 0.0)
        np.add.at(self._early, who[:-1][pair], ov[pair])
        np.add.at(self._late, who[1:][pair], ov[pair])
        m = runs_n if end is not None else runs_n - 1  # the runs settled now
        stop = start[1:] if end is None else np.append(start[1:], end)
        c_s, c_e, c_pair = self._cut
        cut_prev = (
            _overlap(
                start[:m], stop, np.concatenate([c_s, ov_s])[:m], np.concatenate([c_e, ov_e])[:m]
            )
            * np.concatenate([c_pair, pair])[:m]
        )
        cut_next = np.zeros(m)
        k = runs_n - 1  # pairs: one after each run but the last
        cut_next[:k] = _overlap(start[:k], stop[:k], ov_s, ov_e) * pair
        own = np.maximum(0.0, (stop - start[:m]) - cut_prev - cut_next)
        has = who[:m] >= 0
        np.add.at(self._sole, who[:m][has], own[has])
        if end is None:
            last = slice(runs_n - 1, runs_n)
            self._held = _Run(*(a[last].copy() for a in (start, who, pid, p_start, p_end)))
            self._cut = (ov_s[-1:].copy(), ov_e[-1:].copy(), pair[-1:].copy())
        else:
            self._held = None

    def _rows(self) -> BottleneckResult:
        """Return the result from the sums."""
        working_line = self._working_s
        shifting = self._early + self._late
        rows = []
        for j, (name, f) in enumerate(zip(self.stations, self._folds, strict=True)):
            rows.append(
                StationBottleneck(
                    station=name,
                    avg_active_period_s=f.active_s / f.periods_n if f.periods_n else None,
                    active_ratio=ratio(f.active_s, f.working_s),
                    blocked_ratio=ratio(f.blocked_s, f.working_s),
                    starved_ratio=ratio(f.starved_s, f.working_s),
                    sole_bottleneck_ratio=ratio(float(self._sole[j]), working_line),
                    shifting_bottleneck_ratio=ratio(float(shifting[j]), working_line),
                )
            )
        return BottleneckResult(
            line=self.line,
            stations=rows,
            average_bottleneck=_argmax(rows, lambda r: r.avg_active_period_s),
            momentary_bottleneck=_argmax(rows, lambda r: r.bottleneck_ratio),
            shifting_ratio=ratio(running_sum(shifting) / 2.0, working_line),
            working_s=working_line,
        )


def detect_bottlenecks(
    line: str, stations: Sequence[StationColumns], end_s: float, t0: float, t1: float
) -> BottleneckResult:
    """Return the active-period bottleneck analysis of one line over ``[t0, t1)``: each
    station's whole columns added to a ``LineBottlenecks`` at once."""
    acc = LineBottlenecks(line, [st.station for st in stations], t0, t1)
    for j, st in enumerate(stations):
        acc.add(j, st.t, st.code)
    return acc.result(end_s)


def _argmax(rows: list[StationBottleneck], value) -> str | None:
    """Return the station with the largest positive value, or ``None``."""
    best, name = 0.0, None
    for r in rows:
        v = value(r)
        if v is not None and v > best:
            best, name = v, r.station
    return name
