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
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from analytics.columns import STATE_CODES, StationColumns
from analytics.kpis import ratio
from analytics.timeline import (
    ACTIVE_CLASS,
    active_periods,
    clipped_durations,
    runs,
    sorted_unique,
    union_length,
)
from plant_sim.states import StationState

_CHUNK = 25_000
#: Period boundaries per time window of the momentary method (see ``_bottleneck_runs``).
_WINDOW = 100_000
_BLOCKED = STATE_CODES[StationState.BLOCKED]
_STARVED = [STATE_CODES[StationState.STARVED], len(STATE_CODES)]


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


@dataclass(slots=True)
class _Periods:
    starts: np.ndarray
    ends: np.ndarray


def _momentary(periods: list[_Periods], t0: float, t1: float) -> tuple[np.ndarray, np.ndarray]:
    """Return per-station (sole, shifting) seconds of momentary bottleneck time.

    The runs of one bottleneck are worked through ``_CHUNK`` at a time, each chunk with
    the run after it (the overlaps of consecutive runs); the sums are the same sums in the
    same order: shifting time is added for the earlier station of every pair first, then
    for the later one, as two whole-array ``np.add.at`` calls would.
    """
    n = len(periods)
    sole, shifting = np.zeros(n), np.zeros(n)
    r_start, r_who, r_pid = _bottleneck_runs(periods, t0, t1)
    runs = len(r_start)
    later: list[tuple[np.ndarray, np.ndarray]] = []  # (later station, overlap) of each pair
    carry: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # the pair before a chunk
    for lo in range(0, runs, _CHUNK):
        hi = min(lo + _CHUNK, runs)
        ext = min(hi + 1, runs)  # with the next run, for the chunk's last pair
        rs, rw, rp = r_start[lo:ext], r_who[lo:ext], r_pid[lo:ext]
        re = r_start[lo + 1 : ext + 1] if ext < runs else np.append(r_start[lo + 1 :], t1)
        p_start, p_end = np.zeros(len(rs)), np.zeros(len(rs))  # 0.0: no bottleneck
        for j, p in enumerate(periods):
            sel = rw == j
            p_start[sel], p_end[sel] = p.starts[rp[sel]], p.ends[rp[sel]]
        # Overlap of consecutive bottleneck periods on different stations: shifting time.
        pair = (rw[:-1] >= 0) & (rw[1:] >= 0) & (rw[:-1] != rw[1:])
        ov_s = np.clip(np.maximum(p_start[:-1], p_start[1:]), t0, t1)
        ov_e = np.clip(np.minimum(p_end[:-1], p_end[1:]), t0, t1)
        ov = np.where(pair, np.maximum(0.0, ov_e - ov_s), 0.0)
        del p_start, p_end
        np.add.at(shifting, rw[:-1][pair], ov[pair])
        later.append((rw[1:][pair], ov[pair]))
        m = hi - lo  # the chunk's own runs
        first_cut = np.zeros(1)
        if carry is not None:
            first_cut = _overlap(rs[:1], re[:1], carry[0], carry[1]) * carry[2]
        inner = _overlap(rs[1:m], re[1:m], ov_s[: m - 1], ov_e[: m - 1]) * pair[: m - 1]
        cut_prev = np.concatenate([first_cut, inner])
        cut_next = np.zeros(m)
        k = len(pair)  # m pairs, or m - 1 in the last chunk
        cut_next[:k] = _overlap(rs[:k], re[:k], ov_s, ov_e) * pair
        own = np.maximum(0.0, (re[:m] - rs[:m]) - cut_prev - cut_next)
        has = rw[:m] >= 0
        np.add.at(sole, rw[:m][has], own[has])
        carry = (ov_s[m - 1 : m], ov_e[m - 1 : m], pair[m - 1 : m]) if k == m else None
    for who, ov in later:
        np.add.at(shifting, who, ov)
    return sole, shifting


def _bottleneck_runs(
    periods: list[_Periods], t0: float, t1: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the start, station and period index of each run of segments with the same
    momentary bottleneck (station -1: none), in time order.

    Segments lie between consecutive period boundaries (starts and ends, clipped to the
    window). They are worked through in time windows of about ``_WINDOW`` boundaries, so
    a long run's arrays are those of one window: a window's edge splits a segment in two
    with the same bottleneck, which the runs join again, so the runs do not depend on it.
    """
    total = sum(2 * len(p.starts) for p in periods)
    k = max(1, -(-total // _WINDOW))
    cuts = [t0 + (t1 - t0) * j / k for j in range(1, k)]
    edges = [t0, *sorted({c for c in cuts if t0 < c < t1}), t1]
    starts, whos, pids = [], [], []
    last: tuple[int, int] | None = None
    for a, b in pairwise(edges):
        pts = [np.array([a, b])]
        for p in periods:
            for arr in (p.starts, p.ends):  # each sorted: the boundaries in [a, b) are a slice
                lo, hi = np.searchsorted(arr, [a, b], "left").tolist()
                pts.append(arr[lo:hi])
        seg = sorted_unique(np.concatenate(pts))[:-1]
        del pts
        if len(seg) == 0:
            continue
        who = np.empty(len(seg), np.int64)
        pid = np.empty(len(seg), np.int64)
        for lo in range(0, len(seg), _CHUNK):
            who[lo : lo + _CHUNK], pid[lo : lo + _CHUNK] = _longest(periods, seg[lo : lo + _CHUNK])
        change = np.empty(len(seg), bool)
        change[0] = (int(who[0]), int(pid[0])) != last
        change[1:] = (who[1:] != who[:-1]) | (pid[1:] != pid[:-1])
        first = np.flatnonzero(change)
        starts.append(seg[first])
        whos.append(who[first])
        pids.append(pid[first])
        last = (int(who[-1]), int(pid[-1]))
    if not starts:
        return np.empty(0), np.empty(0, np.int32), np.empty(0, np.int32)
    # station and period as int32: 16 bytes a run, not 24
    return (
        np.concatenate(starts),
        np.concatenate(whos).astype(np.int32),
        np.concatenate(pids).astype(np.int32),
    )


def _overlap(a0: np.ndarray, a1: np.ndarray, b0: np.ndarray, b1: np.ndarray) -> np.ndarray:
    """Return the overlap length of intervals ``[a0, a1)`` and ``[b0, b1)``, elementwise."""
    return np.maximum(0.0, np.minimum(a1, b1) - np.maximum(a0, b0))


def _longest(periods: list[_Periods], seg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return, per segment start, the station with the longest covering period and its index.

    ``seg`` is sorted and each station's periods are sorted and disjoint, so the last period
    starting at or before ``seg[i]`` is found by counting period starts (a cumulative sum
    over ``seg``) instead of a binary search per segment; ties go to the first station.
    """
    n = len(seg)
    best = np.zeros(n)
    who = np.full(n, -1, np.int64)
    pid = np.full(n, -1, np.int64)
    for j, p in enumerate(periods):
        if len(p.starts) == 0:
            continue
        first = np.searchsorted(seg, p.starts, "left")  # first segment at or after a start
        # k = 1 + index of the last period starting at or before each segment; 0 = none,
        # which the padding (length 0, end -inf) never lets cover a segment.
        k = np.cumsum(np.bincount(first, minlength=n + 1)[:n])
        length = np.concatenate([[0.0], p.ends - p.starts])[k]
        better = (length > best) & (seg < np.concatenate([[-np.inf], p.ends])[k])
        best[better] = length[better]
        who[better] = j
        pid[better] = k[better] - 1
    return who, pid


def _station_figures(
    st: StationColumns, p: _Periods, end_s: float, t0: float, t1: float
) -> tuple[float | None, float, float, float, float]:
    """Return (mean active period, active s, working s, blocked s, starved s) in the window."""
    dur = clipped_durations(st.t, end_s, t0, t1)
    cls = ACTIVE_CLASS[st.code] if len(st.code) else np.empty(0, np.int8)
    working = float(dur[cls >= 0].sum())
    blocked = float(dur[st.code == _BLOCKED].sum())
    starved = float(dur[np.isin(st.code, _STARVED)].sum())
    clipped = _overlap(p.starts, p.ends, np.full(len(p.starts), t0), np.full(len(p.ends), t1))
    clipped = clipped[clipped > 0]
    mean = float(clipped.mean()) if len(clipped) else None
    return mean, float(clipped.sum()), working, blocked, starved


def detect_bottlenecks(
    line: str, stations: Sequence[StationColumns], end_s: float, t0: float, t1: float
) -> BottleneckResult:
    """Return the active-period bottleneck analysis of one line over ``[t0, t1)``."""
    periods = [_Periods(*active_periods(st.t, st.code, end_s)) for st in stations]
    work_runs = [runs(st.t, ACTIVE_CLASS[st.code] >= 0, end_s) for st in stations]
    working_line = union_length(
        np.concatenate([r[0] for r in work_runs] or [np.empty(0)]),
        np.concatenate([r[1] for r in work_runs] or [np.empty(0)]),
        t0,
        t1,
    )
    del work_runs  # not needed by what follows (a long run's peak is in ``_momentary``)
    sole, shifting = _momentary(periods, t0, t1)
    rows = []
    for j, (st, p) in enumerate(zip(stations, periods, strict=True)):
        mean, active, working, blocked, starved = _station_figures(st, p, end_s, t0, t1)
        rows.append(
            StationBottleneck(
                station=st.station,
                avg_active_period_s=mean,
                active_ratio=ratio(active, working),
                blocked_ratio=ratio(blocked, working),
                starved_ratio=ratio(starved, working),
                sole_bottleneck_ratio=ratio(float(sole[j]), working_line),
                shifting_bottleneck_ratio=ratio(float(shifting[j]), working_line),
            )
        )
    return BottleneckResult(
        line=line,
        stations=rows,
        average_bottleneck=_argmax(rows, lambda r: r.avg_active_period_s),
        momentary_bottleneck=_argmax(rows, lambda r: r.bottleneck_ratio),
        shifting_ratio=ratio(float(shifting.sum()) / 2.0, working_line),
        working_s=working_line,
    )


def _argmax(rows: list[StationBottleneck], value) -> str | None:
    """Return the station with the largest positive value, or ``None``."""
    best, name = 0.0, None
    for r in rows:
        v = value(r)
        if v is not None and v > best:
            best, name = v, r.station
    return name
