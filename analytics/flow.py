"""Flow KPIs per line (Factory Physics): time-weighted WIP, flow and lead time, Little's law.

Where each flow KPI starts and ends (``PartReleased`` is emitted when the first station takes
the part from the release queue, not when the part joins that queue):

- ``wip_avg``: parts between ``PartReleased`` and ``PartLeft`` (finished or scrapped),
  time-weighted over the window: the parts on the line, not those queued in front of it;
- ``flow_time_*``: ``PartLeft − PartReleased`` of the finished parts that left in the window
  (the record's ``flow_time_s``): the time on the line, without the wait in the release queue;
- ``line_lead_time_avg_s``: ``PartLeft −`` the release of the part's order to the line
  (``OrderEvent`` "released", when its parts join the release queue) for the finished parts
  that left in the window: flow time plus the wait in front of the first station. A part made
  without an order (a saturated line has no release queue) counts its flow time. With a lot
  size, later lots join the queue when the previous lot has started: their parts count from
  the order's release all the same (the hold-back is part of their lead time), and so does a
  replacement for a scrapped part. No model record changes: the times are those of the
  ``OrderEvent`` "released" and ``PartLeft`` records the model already emits.

Little's law WIP = TH × CT is checked with TH = all exits per unit time and CT = their mean flow
time; the gap is relative to measured WIP. If a log starts with parts already on the line (exits
before any release), the initial WIP is taken as that deficit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from itertools import repeat

import numpy as np

from analytics.columns import LineColumns
from analytics.kpis import ratio
from analytics.timeline import step_mean
from plant_sim.records import OrderEvent


@dataclass(frozen=True, slots=True)
class FlowValues:
    """Flow KPIs of one line or the plant over one window (registry ids; ``None`` undefined)."""

    wip_avg: float | None
    exit_rate_uph: float | None
    flow_time_avg_s: float | None
    flow_time_p50_s: float | None
    flow_time_p95_s: float | None
    line_lead_time_avg_s: float | None
    little_wip: float | None
    little_gap_ratio: float | None
    released: int
    finished: int
    scrapped: int

    def as_dict(self) -> dict[str, float | int | None]:
        """Return the values by registry id."""
        return asdict(self)


def _wip_steps(line: LineColumns) -> tuple[np.ndarray, np.ndarray, float]:
    """Return (times, WIP after each event, initial WIP) of one line."""
    times = np.concatenate([line.release_t, line.exit_t])
    delta = np.concatenate([np.ones(len(line.release_t)), -np.ones(len(line.exit_t))])
    # At equal times, count exits first so a part never adds a spurious unit of WIP.
    order = np.lexsort((delta, times))
    times, level = times[order], np.cumsum(delta[order])
    initial = max(0.0, -float(level.min())) if len(level) else 0.0
    return times, level + initial, initial


def _stats(x: np.ndarray) -> tuple[float | None, float | None, float | None]:
    """Return mean, median and 95th percentile, or ``None`` for no data."""
    if len(x) == 0:
        return None, None, None
    p50, p95 = np.percentile(x, [50, 95])
    return float(x.mean()), float(p50), float(p95)


def _in_window(t: np.ndarray, t0: float, t1: float, include_end: bool) -> np.ndarray:
    """Return the mask of events inside the window."""
    return (t >= t0) & ((t <= t1) if include_end else (t < t1))


def order_release_times(orders: Iterable[OrderEvent]) -> dict[str, float]:
    """Return the time each order was released to a line (its parts joined the queue)."""
    return {e.order_id: e.t for e in orders if e.event == "released"}


def line_lead_times(
    line: LineColumns, mask: np.ndarray, order_released: Mapping[str, float]
) -> np.ndarray:
    """Return exit − order release of the exits in ``mask`` (flow time for parts with no order)."""
    exit_t, flow_s = line.exit_t[mask], line.exit_flow_s[mask]
    orders = line.exit_order[mask] if len(line.exit_order) == len(line.exit_t) else ()
    if len(orders) == 0:
        return flow_s
    if None in order_released:  # a part with no order (None) has no release
        order_released = {k: v for k, v in order_released.items() if k is not None}
    start = np.fromiter(map(order_released.get, orders, repeat(np.nan)), float, len(orders))
    return np.where(np.isnan(start), flow_s, exit_t - start)


@dataclass(frozen=True, slots=True)
class _LineFlow:
    """One line's part of the flow KPIs over a window."""

    wip: float  # time-weighted mean WIP (0.0 for an empty window)
    released: int
    finished: np.ndarray
    flow_s: np.ndarray
    lead_s: np.ndarray


def _line_flow(
    line: LineColumns,
    t0: float,
    t1: float,
    include_end: bool,
    order_released: Mapping[str, float],
) -> _LineFlow:
    """Return one line's WIP, releases, exits and lead times in ``[t0, t1)``."""
    wip = 0.0
    if t1 - t0 > 0:
        times, level, initial = _wip_steps(line)
        wip = step_mean(times, level, t0, t1, initial)
    m = _in_window(line.exit_t, t0, t1, include_end)
    return _LineFlow(
        wip=wip,
        released=int(_in_window(line.release_t, t0, t1, include_end).sum()),
        finished=line.exit_finished[m],
        flow_s=line.exit_flow_s[m],
        lead_s=line_lead_times(line, m & line.exit_finished, order_released),
    )


def compute_flow(
    lines: Sequence[LineColumns],
    t0: float,
    t1: float,
    include_end: bool = True,
    order_released: Mapping[str, float] | None = None,
) -> FlowValues:
    """Return flow KPIs over ``[t0, t1)`` of one line, or of the plant when given several.

    ``order_released`` maps order ids to their release to a line (``order_release_times``),
    for the line lead time; without it the line lead time equals the flow time.
    """
    released = order_released or {}
    return _combine([_line_flow(ln, t0, t1, include_end, released) for ln in lines], t1 - t0)


def compute_flows(
    lines: Sequence[LineColumns],
    t0: float,
    t1: float,
    include_end: bool = True,
    order_released: Mapping[str, float] | None = None,
) -> tuple[dict[str, FlowValues], FlowValues]:
    """Return ``compute_flow`` of each line (by line id) and of all of them (the plant),
    reading each line once."""
    released = order_released or {}
    parts = [_line_flow(ln, t0, t1, include_end, released) for ln in lines]
    per_line = {ln.line: _combine([p], t1 - t0) for ln, p in zip(lines, parts, strict=True)}
    return per_line, _combine(parts, t1 - t0)


def _combine(parts: Sequence[_LineFlow], span: float) -> FlowValues:
    """Return the flow KPIs of the lines whose parts are given."""
    wip = 0.0
    for p in parts:
        wip += p.wip
    released = sum(p.released for p in parts)
    fin = np.concatenate([p.finished for p in parts]) if parts else np.empty(0, bool)
    leads = np.concatenate([p.lead_s for p in parts]) if parts else np.empty(0)
    fl = np.concatenate([p.flow_s for p in parts]) if parts else np.empty(0)
    n_exit = len(fl)
    mean_all = float(fl.mean()) if n_exit else None
    rate = ratio(n_exit, span)
    little = None if (rate is None or mean_all is None) else rate * mean_all
    avg, p50, p95 = _stats(fl[fin])
    wip_avg = wip if span > 0 else None
    gap = None if (little is None or not wip_avg) else (little - wip_avg) / wip_avg
    return FlowValues(
        wip_avg=wip_avg,
        exit_rate_uph=None if rate is None else rate * 3600.0,
        flow_time_avg_s=avg,
        flow_time_p50_s=p50,
        flow_time_p95_s=p95,
        line_lead_time_avg_s=float(leads.mean()) if len(leads) else None,
        little_wip=little,
        little_gap_ratio=gap,
        released=released,
        finished=int(fin.sum()),
        scrapped=int(n_exit - fin.sum()),
    )


def lead_time_bins(
    line: LineColumns,
    edges: np.ndarray,
    order_released: Mapping[str, float],
    include_end: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Return per bin (finished exits, sum of their line lead times in s) of a line: the
    elements of ``line_lead_time_avg_s`` (sum / finished) over any run of bins."""
    from analytics.timeline import count_by_bin

    fin = line.exit_finished
    t = line.exit_t[fin]
    leads = line_lead_times(line, fin, order_released)
    return count_by_bin(t, edges, include_end), count_by_bin(t, edges, include_end, leads)


def first_pass_counts(
    line: LineColumns, edges: np.ndarray, include_end: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Return per bin (GP, IP): first-pass finished exits and all exits of a line."""
    from analytics.timeline import count_by_bin

    gp = count_by_bin(line.exit_t[line.exit_first_pass], edges, include_end)
    ip = count_by_bin(line.exit_t, edges, include_end)
    return gp.round().astype(int), ip.round().astype(int)
