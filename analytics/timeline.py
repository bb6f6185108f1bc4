"""State intervals on a time axis: clipping to windows, per-bin sums, time-weighted averages.

A station's states form a step function: interval *i* starts at ``t[i]`` with state
``code[i]`` and lasts until ``t[i+1]``, the last one until ``end_s`` (the run end). Windows are
given as sorted bin edges ``e0 < e1 < ... < en``; bin *k* is ``[e_k, e_k+1)`` and windows may cut
through intervals. Everything here is pure numpy on arrays from ``analytics.columns``.
"""

from __future__ import annotations

import numpy as np

from analytics.columns import N_CODES, STATE_CODES, UNOBSERVED
from plant_sim.states import PAUSE_STATES, STATE_INFO, StationState

_DOWN = STATE_CODES[StationState.DOWN]
_MINOR = STATE_CODES[StationState.MINOR_STOP]
_PAUSE = [STATE_CODES[s] for s in PAUSE_STATES]
#: Active-period class per code: 1 active, 0 waiting, -1 excluded (not planned for work).
ACTIVE_CLASS = np.full(N_CODES, -1, np.int8)
for _state, _code in STATE_CODES.items():
    _active = STATE_INFO[_state].active
    ACTIVE_CLASS[_code] = -1 if _active is None else int(_active)
ACTIVE_CLASS[N_CODES - 2] = 0  # material-starved waits like any starved station


def sorted_unique(values: np.ndarray) -> np.ndarray:
    """Return ``np.unique(values)`` (values without NaN), faster for a few sorted runs put
    together: a stable sort merges the runs instead of sorting from scratch."""
    out = np.sort(values, kind="stable")
    if len(out) > 1:
        out = out[np.concatenate(([True], out[1:] != out[:-1]))]
    return out


def state_time_by_bin(
    t: np.ndarray, code: np.ndarray, power_kw: np.ndarray, end_s: float, edges: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Return time (s) and energy (kWh) per bin and state code, each shaped ``(bins, N_CODES)``.

    Time outside the station's records (before its first state, at or after ``end_s``) is
    booked to ``UNOBSERVED``, so each row sums exactly to its bin's length.
    """
    nb = len(edges) - 1
    lo, hi = edges[0], edges[-1]
    inner = t[(t > lo) & (t < hi)]
    pts = sorted_unique(np.concatenate([inner, edges, [min(max(end_s, lo), hi)]]))
    starts, dur = pts[:-1], np.diff(pts)
    k = np.searchsorted(t, starts, "right") - 1
    state = np.where(k >= 0, code[np.maximum(k, 0)] if len(code) else UNOBSERVED, UNOBSERVED)
    state[starts >= end_s] = UNOBSERVED
    power = np.where(state == UNOBSERVED, 0.0, power_kw[np.maximum(k, 0)] if len(t) else 0.0)
    b = np.searchsorted(edges, starts, "right") - 1
    flat = b * N_CODES + state
    size = nb * N_CODES
    time = np.bincount(flat, weights=dur, minlength=size).reshape(nb, N_CODES)
    energy = np.bincount(flat, weights=dur * power, minlength=size).reshape(nb, N_CODES)
    return time, energy / 3600.0


def bin_index(times: np.ndarray, edges: np.ndarray, include_end: bool) -> np.ndarray:
    """Return the bin of each time, -1 outside; ``include_end`` puts ``t == en`` in the last bin."""
    b = np.searchsorted(edges, times, "right") - 1
    nb = len(edges) - 1
    if include_end:
        b[(b == nb) & (times == edges[-1])] = nb - 1
    b[(b < 0) | (b >= nb)] = -1
    return b


def count_by_bin(
    times: np.ndarray, edges: np.ndarray, include_end: bool, weights: np.ndarray | None = None
) -> np.ndarray:
    """Return the number (or weight sum) of events per bin."""
    b = bin_index(times, edges, include_end)
    keep = b >= 0
    w = None if weights is None else weights[keep]
    return np.bincount(b[keep], weights=w, minlength=len(edges) - 1)


def new_stop_mask(code: np.ndarray) -> np.ndarray:
    """Return which intervals begin a new failure (DOWN) or minor stop.

    Vectorised ``plant_sim.states.starts_new_stop``: a stop state not entered from a pause
    (off shift, planned downtime) nor from the same state.
    """
    prev = np.concatenate([[-1], code[:-1]]).astype(np.int16)
    is_stop = (code == _DOWN) | (code == _MINOR)
    return is_stop & ~np.isin(prev, _PAUSE) & (prev != code)


def interval_ends(t: np.ndarray, end_s: float) -> np.ndarray:
    """Return the end of every interval (the next start, the last one ``end_s``)."""
    return np.concatenate([t[1:], [max(end_s, t[-1])]]) if len(t) else t.copy()


def clipped_durations(t: np.ndarray, end_s: float, t0: float, t1: float) -> np.ndarray:
    """Return the part of each interval that lies inside ``[t0, t1)``."""
    ends = interval_ends(t, end_s)
    return np.maximum(0.0, np.minimum(ends, t1) - np.maximum(t, t0))


def running_sum(values: np.ndarray, start: float = 0.0) -> float:
    """Return ``start + values[0] + values[1] + ...`` added left to right.

    Unlike numpy's pairwise ``sum``, the result does not depend on how the values are cut
    into chunks when each chunk's result is the next one's ``start``: a sum folded while a
    run streams equals the sum over the whole run, to the bit.
    """
    if len(values) == 0:
        return float(start)
    return float(np.add.accumulate(np.concatenate([[float(start)], values]))[-1])


class StepArea:
    """The integral over ``[t0, t1)`` of a step function fed in time order, chunk by chunk.

    The function is ``level`` before its first change and ``levels[i]`` from ``times[i]`` on;
    changes at or before ``t0`` set the level at ``t0``, changes at or after ``t1`` are left
    out. The area is a ``running_sum`` of level × duration, segment by segment in time order,
    so it is the same to the bit however the changes are cut into chunks (``t1`` may be left
    open while they come: ``area(t1)`` closes the last segment).
    """

    __slots__ = ("area_s", "at", "level", "t0", "t1")

    def __init__(self, t0: float, t1: float = np.inf, level: float = 0.0) -> None:
        self.t0, self.t1 = float(t0), float(t1)
        self.at = self.t0  # start of the open segment
        self.level = float(level)  # level of the open segment
        self.area_s = 0.0  # area of the closed segments

    def add(self, times: np.ndarray, levels: np.ndarray) -> None:
        """Take the next changes: ``times`` sorted, none before the latest change taken."""
        if len(times) == 0:
            return
        i0 = int(np.searchsorted(times, self.t0, "right"))
        i1 = int(np.searchsorted(times, self.t1, "left"))
        if i0 > 0:  # changes up to t0: the level at t0
            self.level = float(levels[i0 - 1])
        if i1 <= i0:
            return
        t = times[i0:i1]
        lv = np.concatenate([[self.level], levels[i0 : i1 - 1]])
        self.area_s = running_sum(np.diff(np.concatenate([[self.at], t])) * lv, self.area_s)
        self.at, self.level = float(t[-1]), float(levels[i1 - 1])

    def area(self, t1: float) -> float:
        """Return the area over ``[t0, t1)``; ``t1`` no earlier than the changes taken
        inside the window (the window's end when it was given)."""
        return self.area_s + (min(t1, self.t1) - self.at) * self.level
