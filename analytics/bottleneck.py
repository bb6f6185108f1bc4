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
    """Return per-station (sole, shifting) seconds of momentary bottleneck time."""
    n = len(periods)
    sole, shifting = np.zeros(n), np.zeros(n)
    pts = [np.array([t0, t1])]
    for p in periods:
        pts += [np.clip(p.starts, t0, t1), np.clip(p.ends, t0, t1)]
    bounds = sorted_unique(np.concatenate(pts))
    del pts  # each temporary is dropped once used: a long run's peak is this function's
    seg = bounds[:-1]
    if len(seg) == 0:
        return sole, shifting
    who = np.empty(len(seg), np.int64)
    pid = np.empty(len(seg), np.int64)
    for lo in range(0, len(seg), _CHUNK):
        who[lo : lo + _CHUNK], pid[lo : lo + _CHUNK] = _longest(periods, seg[lo : lo + _CHUNK])
    change = np.concatenate([[True], (who[1:] != who[:-1]) | (pid[1:] != pid[:-1])])
    first = np.flatnonzero(change)
    r_start = seg[first]
    r_end = np.concatenate([seg[first[1:]], [t1]])
    r_who, r_pid = who[first], pid[first]
    del who, pid, change, first, seg, bounds
    offset = np.concatenate([[0], np.cumsum([len(p.starts) for p in periods])])
    all_s = np.concatenate([p.starts for p in periods] + [[0.0]])
    all_e = np.concatenate([p.ends for p in periods] + [[0.0]])
    g = np.where(r_who >= 0, offset[np.maximum(r_who, 0)] + r_pid, len(all_s) - 1)
    p_start, p_end = all_s[g], all_e[g]
    del all_s, all_e, g, r_pid
    # Overlap of consecutive bottleneck periods on different stations: shifting time.
    pair = (r_who[:-1] >= 0) & (r_who[1:] >= 0) & (r_who[:-1] != r_who[1:])
    ov_s = np.clip(np.maximum(p_start[:-1], p_start[1:]), t0, t1)
    ov_e = np.clip(np.minimum(p_end[:-1], p_end[1:]), t0, t1)
    ov = np.where(pair, np.maximum(0.0, ov_e - ov_s), 0.0)
    del p_start, p_end
    np.add.at(shifting, r_who[:-1][pair], ov[pair])
    np.add.at(shifting, r_who[1:][pair], ov[pair])
    del ov
    dur = r_end - r_start
    cut_prev = np.concatenate([[0.0], _overlap(r_start[1:], r_end[1:], ov_s, ov_e) * pair])
    cut_next = np.concatenate([_overlap(r_start[:-1], r_end[:-1], ov_s, ov_e) * pair, [0.0]])
    del ov_s, ov_e, pair
    own = np.maximum(0.0, dur - cut_prev - cut_next)
    del dur, cut_prev, cut_next, r_start, r_end
    has = r_who >= 0
    np.add.at(sole, r_who[has], own[has])
    return sole, shifting


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
