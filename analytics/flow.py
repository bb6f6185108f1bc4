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
before any release), the initial WIP is taken as that deficit: the lowest WIP counted from 0
over the whole log (exits before releases at equal times), added as initial WIP × window
length to the area of the WIP counted from 0.

Every KPI here is folded by ``LineFlowFold`` from releases and exits in time order: counts,
``running_sum`` of flow and lead times, WIP as the area of its step function (``StepArea``);
only the finished exits' flow times are kept (the percentiles need them all). ``compute_flows``
on whole columns and a report folded while a run streams (``analytics.stream_report``) feed the
same folds, so they agree to the bit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from itertools import repeat

import numpy as np

from analytics.columns import GrowingArray, LineColumns
from analytics.kpis import ratio
from analytics.timeline import StepArea, count_by_bin, running_sum
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


#: Change of WIP at a release and at an exit; exits sort first at equal times, so a part
#: never adds a spurious unit of WIP.
_RELEASE, _EXIT = 1.0, -1.0


def _in_window(t: np.ndarray, t0: float, t1: float, include_end: bool) -> np.ndarray:
    """Return the mask of events inside the window."""
    return (t >= t0) & ((t <= t1) if include_end else (t < t1))


def order_release_times(orders: Iterable[OrderEvent]) -> dict[str, float]:
    """Return the time each order was released to a line (its parts joined the queue)."""
    return {e.order_id: e.t for e in orders if e.event == "released"}


def lead_times(
    exit_t: np.ndarray,
    flow_s: np.ndarray,
    orders: np.ndarray,
    order_released: Mapping[str, float],
) -> np.ndarray:
    """Return exit − order release of exits (flow time for parts with no order or no known
    release); ``orders`` holds each exit's order id (object array, or empty: no orders)."""
    if len(orders) != len(exit_t) or len(orders) == 0:
        return flow_s
    if None in order_released:  # a part with no order (None) has no release
        order_released = {k: v for k, v in order_released.items() if k is not None}
    start = np.fromiter(map(order_released.get, orders, repeat(np.nan)), float, len(orders))
    return np.where(np.isnan(start), flow_s, exit_t - start)


def line_lead_times(
    line: LineColumns, mask: np.ndarray, order_released: Mapping[str, float]
) -> np.ndarray:
    """Return exit − order release of the exits in ``mask`` (flow time for parts with no order)."""
    orders = line.exit_order[mask] if len(line.exit_order) == len(line.exit_t) else ()
    return lead_times(line.exit_t[mask], line.exit_flow_s[mask], np.asarray(orders), order_released)


@dataclass(frozen=True, slots=True)
class LineFlow:
    """One line's part of the flow KPIs over a window: sums, counts and the finished exits'
    flow times (the percentiles need every value)."""

    wip: float  # time-weighted mean WIP (0.0 for an empty window)
    released: int
    exits: int
    flow_sum_s: float  # running sum of every exit's flow time, in exit order
    finished_flow_s: np.ndarray  # flow times of the finished exits, in exit order
    lead_sum_s: float  # running sum of the finished exits' line lead times


class LineFlowFold:
    """One line's flow KPIs over ``[t0, t1)``, folded from its releases and exits batch by
    batch (``t1`` may stay open while a run streams): the same numbers to the bit however
    the records are cut into batches, and the same as ``compute_flows`` on whole columns.

    Kept per part: the flow time of each finished exit (8 bytes); releases and exits are
    otherwise counted and summed (``running_sum``) as they come. WIP is folded as an area
    (``StepArea``) over the WIP changes in time order, exits before releases at equal times;
    the changes at the latest time are held back until a later one comes, so the order is
    that of the whole run. Changes must come in time order (``ValueError`` otherwise).
    """

    __slots__ = (
        "_area",
        "_held",
        "_last",
        "_level",
        "_lowest",
        "_window",
        "exits",
        "finished",
        "flow_sum_s",
        "lead_sum_s",
        "released",
    )

    def __init__(self, t0: float, t1: float = np.inf, include_end: bool = True) -> None:
        self._window = (float(t0), float(t1), include_end)
        self._area = StepArea(t0, t1)
        self._held = (np.empty(0), np.empty(0))  # WIP changes at the latest time: times, deltas
        self._last = -np.inf  # time of the latest change folded
        self._level = 0.0  # WIP after the changes folded, counted from 0 (no initial WIP)
        self._lowest = 0.0  # lowest such WIP: minus the initial WIP when negative
        self.released = self.exits = 0
        self.flow_sum_s = self.lead_sum_s = 0.0
        self.finished = GrowingArray()

    def add(
        self,
        release_t: np.ndarray,
        exit_t: np.ndarray,
        finished: np.ndarray,
        flow_s: np.ndarray,
        lead_s: np.ndarray,
    ) -> None:
        """Take the next releases and exits (each exit: finished or not, flow time, line lead
        time), no earlier than those taken so far."""
        t0, t1, inc = self._window
        self._add_changes(release_t, exit_t)
        self.released += int(np.count_nonzero(_in_window(release_t, t0, t1, inc)))
        inside = _in_window(exit_t, t0, t1, inc)
        self.exits += int(np.count_nonzero(inside))
        self.flow_sum_s = running_sum(flow_s[inside], self.flow_sum_s)
        done = inside & finished
        self.finished.add(flow_s[done])
        self.lead_sum_s = running_sum(lead_s[done], self.lead_sum_s)

    def _add_changes(self, release_t: np.ndarray, exit_t: np.ndarray) -> None:
        """Fold the WIP changes before the latest time; hold back those at it."""
        held_t, held_d = self._held
        times = np.concatenate([held_t, release_t, exit_t])
        if len(times) == 0:
            return
        delta = np.concatenate(
            [held_d, np.full(len(release_t), _RELEASE), np.full(len(exit_t), _EXIT)]
        )
        order = np.lexsort((delta, times))
        times, delta = times[order], delta[order]
        if times[0] <= self._last:
            raise ValueError(
                f"records: a release or exit at {float(times[0])} s is out of time order"
            )
        cut = int(np.searchsorted(times, times[-1], "left"))
        self._fold_changes(times[:cut], delta[:cut])
        self._held = (times[cut:], delta[cut:])

    def _fold_changes(self, times: np.ndarray, delta: np.ndarray) -> None:
        """Fold WIP changes in time order into the area."""
        if len(times) == 0:
            return
        level = self._level + np.cumsum(delta)
        self._lowest = min(self._lowest, float(level.min()))
        self._area.add(times, level)
        self._level, self._last = float(level[-1]), float(times[-1])

    def result(self, t1: float) -> LineFlow:
        """Return the line's flow over the window ending at ``t1`` (the given end, or the run
        end for an open window), once every release and exit is in."""
        self._fold_changes(*self._held)
        self._held = (np.empty(0), np.empty(0))
        t0 = self._window[0]
        wip = 0.0
        if t1 - t0 > 0:
            initial = max(0.0, -self._lowest)  # parts on the line when the log starts
            wip = (self._area.area(t1) + initial * (t1 - t0)) / (t1 - t0)
        return LineFlow(
            wip, self.released, self.exits, self.flow_sum_s, self.finished.view(), self.lead_sum_s
        )


def _line_flow(
    line: LineColumns,
    t0: float,
    t1: float,
    include_end: bool,
    order_released: Mapping[str, float],
) -> LineFlow:
    """Return one line's WIP, releases, exits and lead times in ``[t0, t1)``."""
    fold = LineFlowFold(t0, t1, include_end)
    leads = line_lead_times(line, np.ones(len(line.exit_t), bool), order_released)
    fold.add(line.release_t, line.exit_t, line.exit_finished, line.exit_flow_s, leads)
    return fold.result(t1)


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
    return combine_flows([_line_flow(ln, t0, t1, include_end, released) for ln in lines], t1 - t0)


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
    parts = {ln.line: _line_flow(ln, t0, t1, include_end, released) for ln in lines}
    return flows_per_line(parts, t1 - t0)


def flows_per_line(
    parts: Mapping[str, LineFlow], span: float
) -> tuple[dict[str, FlowValues], FlowValues]:
    """Return the flow KPIs of each line (by line id) and of the plant from the lines'
    ``LineFlow`` over a window ``span`` seconds long."""
    per_line = {line: combine_flows([p], span) for line, p in parts.items()}
    return per_line, combine_flows(list(parts.values()), span)


def combine_flows(parts: Sequence[LineFlow], span: float) -> FlowValues:
    """Return the flow KPIs of the lines whose parts are given."""
    wip = running_sum(np.array([p.wip for p in parts]))  # the lines in line order
    n_exit = sum(p.exits for p in parts)
    fl = np.concatenate([p.finished_flow_s for p in parts]) if parts else np.empty(0)
    n_fin = len(fl)
    mean_all = running_sum(np.array([p.flow_sum_s for p in parts])) / n_exit if n_exit else None
    rate = ratio(n_exit, span)
    little = None if (rate is None or mean_all is None) else rate * mean_all
    avg = p50 = p95 = lead = None
    if n_fin:
        avg = running_sum(np.array([running_sum(p.finished_flow_s) for p in parts])) / n_fin
        p50, p95 = (float(x) for x in np.percentile(fl, [50, 95]))
        lead = running_sum(np.array([p.lead_sum_s for p in parts])) / n_fin
    wip_avg = wip if span > 0 else None
    gap = None if (little is None or not wip_avg) else (little - wip_avg) / wip_avg
    return FlowValues(
        wip_avg=wip_avg,
        exit_rate_uph=None if rate is None else rate * 3600.0,
        flow_time_avg_s=avg,
        flow_time_p50_s=p50,
        flow_time_p95_s=p95,
        line_lead_time_avg_s=lead,
        little_wip=little,
        little_gap_ratio=gap,
        released=sum(p.released for p in parts),
        finished=n_fin,
        scrapped=n_exit - n_fin,
    )


def lead_time_bins(
    line: LineColumns,
    edges: np.ndarray,
    order_released: Mapping[str, float],
    include_end: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Return per bin (finished exits, sum of their line lead times in s) of a line: the
    elements of ``line_lead_time_avg_s`` (sum / finished) over any run of bins."""
    fin = line.exit_finished
    t = line.exit_t[fin]
    leads = line_lead_times(line, fin, order_released)
    return count_by_bin(t, edges, include_end), count_by_bin(t, edges, include_end, leads)


def first_pass_counts(
    line: LineColumns, edges: np.ndarray, include_end: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Return per bin (GP, IP): first-pass finished exits and all exits of a line."""
    return exit_counts(line.exit_t, line.exit_first_pass, edges, include_end)


def exit_counts(
    exit_t: np.ndarray, first_pass: np.ndarray, edges: np.ndarray, include_end: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Return per bin (GP, IP): the exits flagged ``first_pass`` and all exits."""
    gp = count_by_bin(exit_t[first_pass], edges, include_end)
    ip = count_by_bin(exit_t, edges, include_end)
    return gp.round().astype(int), ip.round().astype(int)


class FirstPassBins:
    """``first_pass_counts`` of a line folded as a run streams: exits wait until their bin
    closes (``close``), then only the counts per bin are kept."""

    __slots__ = ("_first", "_floor", "_t", "gp", "ip")

    def __init__(self) -> None:
        self._t, self._first = np.empty(0), np.empty(0, bool)  # exits not counted yet
        self._floor = -np.inf  # end of the bins closed so far
        self.gp, self.ip = np.empty(0, int), np.empty(0, int)

    def add(self, exit_t: np.ndarray, first_pass: np.ndarray) -> None:
        """Take the next exits (time, first-pass finished or not); none in a closed bin."""
        if len(exit_t) and float(exit_t.min()) < self._floor:
            raise ValueError(
                f"records: an exit at {float(exit_t.min())} s is out of time order"
                f" (shift occurrences up to {self._floor} s are folded already)"
            )
        self._t = np.concatenate([self._t, exit_t])
        self._first = np.concatenate([self._first, first_pass])

    def close(self, edges: np.ndarray, final: bool) -> None:
        """Count the exits of bins ``edges`` (the first edge is the end of those closed so
        far); ``final``: the last bins of the run, counting exits at its end."""
        keep = np.zeros(len(self._t), bool) if final else self._t >= edges[-1]
        gone = ~keep
        gp, ip = exit_counts(self._t[gone], self._first[gone], edges, final)
        self.gp, self.ip = np.concatenate([self.gp, gp]), np.concatenate([self.ip, ip])
        self._t, self._first = self._t[keep], self._first[keep]
        self._floor = float(edges[-1])
