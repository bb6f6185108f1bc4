"""Loss analysis: downtime by reason (Pareto), minor stops against breakdowns, six big losses.

The six-big-losses view (Nakajima / TPM) is shown beside the ISO 22400 view of the same
planned busy time. Both split PBT into losses and valuable time (PRI × GQ equivalent, =
OEE × PBT); they differ in where minor stops go (ISO: delay, an availability loss; Nakajima: a
speed loss) and in treating idle, starved and blocked time (ISO: ADOT inside PBT; here shown as
its own downtime row in both views). OEE is the same in both (standards.md §1.6).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from analytics.columns import STATE_CODES, StationColumns
from analytics.elements import Elements
from analytics.kpis import compute_kpis, ratio
from analytics.timeline import clipped_durations, new_stop_mask
from plant_sim.states import StationState

#: The stop states (state code -> loss name) whose time and events go by reason.
STOP_CODES = {
    STATE_CODES[StationState.DOWN]: "down",
    STATE_CODES[StationState.MINOR_STOP]: "minor_stop",
}


@dataclass(frozen=True, slots=True)
class ReasonLoss:
    """Stop time and events of one reason at one station in the window."""

    line: str
    station: str
    state: str  # "down" | "minor_stop"
    reason: str
    events: int
    time_s: float


@dataclass(frozen=True, slots=True)
class ParetoRow:
    """One bar of a Pareto chart: a loss key, its time, share and cumulative share."""

    key: str
    events: int
    time_s: float
    share: float
    cum_share: float


@dataclass(frozen=True, slots=True)
class LossRow:
    """One loss of a loss view: time and share of planned busy time (PBT)."""

    view: str  # "iso" | "six_big_losses"
    loss: str
    category: str  # availability | performance | quality | valuable
    time_s: float | None
    share_of_pbt: float | None


def downtime_by_reason(
    stations: Sequence[StationColumns],
    end_s: float,
    t0: float,
    t1: float,
    include_end: bool = True,
) -> list[ReasonLoss]:
    """Return stop time and events per (station, stop state, reason) inside ``[t0, t1)``."""
    out: list[ReasonLoss] = []
    for st in stations:
        dur = clipped_durations(st.t, end_s, t0, t1)
        in_win = (st.t >= t0) & ((st.t <= t1) if include_end else (st.t < t1))
        counted = new_stop_mask(st.code) & in_win
        for code, name in STOP_CODES.items():
            acc: dict[str, list] = {}
            add_stops(acc, st.code == code, st.reason, dur, counted)
            out += [ReasonLoss(st.line, st.station, name, r, v[0], v[1]) for r, v in acc.items()]
    return out


def add_stops(
    acc: dict[str, list],
    is_stop: np.ndarray,
    reasons: np.ndarray,
    dur: np.ndarray,
    counted: np.ndarray,
) -> None:
    """Add the stop records (``is_stop``) with time in the window or a counted start to
    ``acc`` (reason -> [events, seconds]), record by record in time order."""
    idx = np.flatnonzero(is_stop & ((dur > 0) | counted))
    for i, d, new in zip(idx.tolist(), dur[idx].tolist(), counted[idx].tolist(), strict=True):
        slot = acc.setdefault(reasons[i] or "unspecified", [0, 0.0])
        slot[0] += int(new)
        slot[1] += d


def pareto(
    losses: Sequence[ReasonLoss], key: Callable[[ReasonLoss], str] = lambda r: r.reason
) -> list[ParetoRow]:
    """Return losses grouped by ``key``, largest time first, with cumulative shares."""
    groups: dict[str, list[float]] = {}
    for r in losses:
        g = groups.setdefault(key(r), [0, 0.0])
        g[0] += r.events
        g[1] += r.time_s
    rows = sorted(groups.items(), key=lambda kv: (-kv[1][1], kv[0]))
    total = sum(v[1] for _, v in rows)
    out, cum = [], 0.0
    for k, (n, t) in rows:
        cum += t
        out.append(
            ParetoRow(k, int(n), t, t / total if total else 0.0, cum / total if total else 0.0)
        )
    return out


@dataclass(frozen=True, slots=True)
class StopSplit:
    """Minor stops against breakdowns in one scope and window."""

    breakdowns: int
    breakdown_s: float
    mean_breakdown_s: float | None
    minor_stops: int
    minor_stop_s: float
    mean_minor_stop_s: float | None
    minor_share_of_delay: float | None  # minor stop time / ADET


def stop_split(e: Elements) -> StopSplit:
    """Return minor stops against breakdowns from summed elements."""
    return StopSplit(
        breakdowns=e.failures,
        breakdown_s=e.down_s,
        mean_breakdown_s=ratio(e.down_s, e.failures),
        minor_stops=e.minor_stops,
        minor_stop_s=e.minor_stop_s,
        mean_minor_stop_s=ratio(e.minor_stop_s, e.minor_stops),
        minor_share_of_delay=ratio(e.minor_stop_s, e.adet_s),
    )


def loss_views(e: Elements) -> list[LossRow]:
    """Return the ISO 22400 and the six-big-losses split of planned busy time."""
    pbt = e.pbt_s
    # Valuable time PRI×GQ (reduced OEE × PBT); 0 for a planned window with no output, where
    # OEE itself is undefined (its quality factor is) but the time is still all lost.
    valuable = None if pbt <= 0 else (0.0 if e.pq == 0 else e.pri_pq_s * e.gq / e.pq)
    speed = e.apt_s - e.pri_pq_s
    defect = None if valuable is None else e.pri_pq_s - valuable
    other_down = e.adot_s
    iso = [
        ("setup (AUST)", "availability", e.aust_s),
        ("breakdowns (ADET)", "availability", e.down_s),
        ("minor stops (ADET)", "availability", e.minor_stop_s),
        ("idle, starved, blocked (ADOT)", "availability", other_down),
        ("effectiveness loss (APT − PRI×PQ)", "performance", speed),
        ("quality loss (PRI×(PQ−GQ))", "quality", defect),
        ("valuable time (OEE × PBT)", "valuable", valuable),
    ]
    six = [
        ("1 equipment failure", "availability", e.down_s),
        ("2 setup and adjustment", "availability", e.aust_s),
        ("idle, starved, blocked", "availability", other_down),
        ("3 idling and minor stops", "performance", e.minor_stop_s),
        ("4 reduced speed", "performance", speed),
        ("5 process defects and rework", "quality", defect),
        ("6 reduced yield (start-up)", "quality", None),  # not told apart in the log
        ("valuable time", "valuable", valuable),
    ]
    return [
        LossRow(view, name, cat, t, None if t is None else ratio(t, pbt))
        for view, rows in (("iso", iso), ("six_big_losses", six))
        for name, cat, t in rows
    ]


@dataclass(frozen=True, slots=True)
class NakajimaFactors:
    """Classic TPM factors: minor stops as a speed loss, idle as downtime."""

    availability: float | None
    performance: float | None
    quality: float | None
    oee: float | None


def nakajima_factors(e: Elements) -> NakajimaFactors:
    """Return Nakajima availability, performance, quality and OEE (same OEE as ISO)."""
    operating = e.pbt_s - e.down_s - e.aust_s - e.adot_s
    a = ratio(operating, e.pbt_s)
    p = ratio(e.pri_pq_s, operating)
    q = ratio(e.gq, e.pq)
    return NakajimaFactors(a, p, q, compute_kpis(e).oee)
