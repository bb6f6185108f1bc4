"""Supply-chain KPIs: how the plant answers demand (orders) and supply (raw material).

An order is *delivered* at its "shipped" event; logs without any "shipped" event fall back to
"completed". Over a window ``[t0, t1)``:

- on-time delivery: orders delivered in the window by their due time / orders delivered;
- order lead time: delivery − arrival of the orders delivered in the window (mean, p50, p95);
- backlog: orders arrived and not delivered at the window end (count, units, past due);
- fill rate: units of orders due in the window delivered by their due time / units due;
- stock-outs: times a raw-material stock ran out, and hours out (summed over materials). A
  stock is out while its level is 0 or while a draw it cannot cover waits (the model's
  "shortage" record, e.g. 0.5 units left and 1.5 needed per part); the last record at a
  time gives the state then.

Hours stations starved for material come from the state intervals (``Elements``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from analytics.columns import StockColumns, stock_columns
from analytics.kpis import ratio
from analytics.timeline import StepArea
from plant_sim.records import OrderEvent, StockLevel


@dataclass(frozen=True, slots=True)
class SupplyValues:
    """Delivery and material KPIs of the plant over one window (registry ids)."""

    otd: float | None
    order_lead_time_avg_s: float | None
    order_lead_time_p50_s: float | None
    order_lead_time_p95_s: float | None
    backlog_orders: int
    backlog_units: int
    late_backlog_orders: int
    fill_rate: float | None
    stockouts: int
    stockout_h: float
    delivered_orders: int
    stockouts_by_material: dict[str, tuple[int, float]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        """Return the values by registry id."""
        return asdict(self)


@dataclass(slots=True)
class _Order:
    arrived: float | None = None
    due: float = 0.0
    quantity: int = 0
    delivered: float | None = None


def order_summaries(events: Sequence[OrderEvent]) -> dict[str, _Order]:
    """Fold order events into one summary per order."""
    final = "shipped" if any(e.event == "shipped" for e in events) else "completed"
    out: dict[str, _Order] = {}
    for e in events:
        o = out.setdefault(e.order_id, _Order())
        o.due, o.quantity = float(e.due_s), int(e.quantity)
        if e.event == "arrived" and o.arrived is None:
            o.arrived = float(e.t)
        elif e.event == final:
            o.delivered = float(e.t)
    return out


#: ``StockLevel.cause`` of a draw the stock cannot cover (the stock is out at any level).
SHORTAGE = "shortage"


class _MaterialFold:
    """One material's stock-outs started and seconds out over a window, folded from its
    records in time order; the records at the latest time wait for a later one (the last
    record at a time gives the state then)."""

    __slots__ = ("_area", "_held", "_last", "_out", "_window", "starts")

    def __init__(self, t0: float, t1: float, include_end: bool) -> None:
        self._window = (t0, t1, include_end)
        self._area = StepArea(t0, t1)  # of 1.0 while out, 0.0 while not
        self._held = (np.empty(0), np.empty(0, bool))  # records at the latest time: t, out
        self._last = -np.inf  # time of the latest record folded
        self._out = False  # out after the records folded
        self.starts = 0

    def add(self, t: np.ndarray, out: np.ndarray) -> None:
        """Take the next records (time, out or not), in stream order."""
        t = np.concatenate([self._held[0], t])
        out = np.concatenate([self._held[1], out])
        order = np.argsort(t, kind="stable")
        t, out = t[order], out[order]
        if len(t) and t[0] <= self._last:
            raise ValueError(f"records: a stock record at {float(t[0])} s is out of time order")
        cut = int(np.searchsorted(t, t[-1], "left")) if len(t) else 0
        self._fold(t[:cut], out[:cut])
        self._held = (t[cut:], out[cut:])

    def _fold(self, t: np.ndarray, out: np.ndarray) -> None:
        """Fold records in time order, each time's records all there."""
        if len(t) == 0:
            return
        last = np.concatenate([t[1:] != t[:-1], [True]])  # the last record at each time
        t, out = t[last], out[last]
        starts = out & ~np.concatenate([[self._out], out[:-1]])
        t0, t1, inc = self._window
        inside = (t >= t0) & ((t <= t1) if inc else (t < t1))
        self.starts += int(np.count_nonzero(starts & inside))
        self._area.add(t, out.astype(float))
        self._out, self._last = bool(out[-1]), float(t[-1])

    def result(self, t1: float) -> tuple[int, float]:
        """Return (stock-outs started, hours out) over the window ending at ``t1``, once
        every record is in."""
        self._fold(*self._held)
        self._held = (np.empty(0), np.empty(0, bool))
        hours = self._area.area(t1) / 3600.0 if t1 > self._window[0] else 0.0
        return self.starts, hours


class StockFold:
    """Stock-outs per material over ``[t0, t1)`` folded from stock records batch by batch
    (``t1`` may stay open while a run streams): the same numbers to the bit however the
    records are cut, and what ``compute_supply`` gives on all of them. Records must come in
    time order per material (``ValueError`` otherwise); nothing is kept per record."""

    __slots__ = ("_materials", "_window")

    def __init__(self, t0: float, t1: float = np.inf, include_end: bool = True) -> None:
        self._window = (float(t0), float(t1), include_end)
        self._materials: dict[str, _MaterialFold] = {}  # in order of first appearance

    def add(self, cols: StockColumns) -> None:
        """Take the next stock records (``cols.materials``: names by code, as first seen)."""
        short = np.array([c == SHORTAGE for c in cols.causes], bool)[cols.cause]
        out = (cols.level <= 0) | short
        for i, name in enumerate(cols.materials):
            pick = cols.material == i
            if pick.any():
                fold = self._materials.get(name)
                if fold is None:
                    fold = self._materials[name] = _MaterialFold(*self._window)
                fold.add(cols.t[pick], out[pick])

    def result(self, t1: float) -> dict[str, tuple[int, float]]:
        """Return ``{material: (stock-outs started in window, hours out)}`` over the window
        ending at ``t1`` (the given end, or the run end for an open window)."""
        return {name: fold.result(t1) for name, fold in self._materials.items()}


def stockouts_by_material(
    levels: Sequence[StockLevel] | StockColumns, t0: float, t1: float, inc: bool
) -> dict[str, tuple[int, float]]:
    """Return ``{material: (stock-outs started in window, hours out)}``."""
    fold = StockFold(t0, t1, inc)
    fold.add(levels if isinstance(levels, StockColumns) else stock_columns(levels))
    return fold.result(t1)


def compute_supply(
    orders: Sequence[OrderEvent],
    stockouts: dict[str, tuple[int, float]],
    t0: float,
    t1: float,
    include_end: bool = True,
) -> SupplyValues:
    """Return the supply-chain KPIs over ``[t0, t1)`` (``include_end``: count events at t1)
    from the orders and the stock-outs per material (``StockFold``, or
    ``stockouts_by_material`` of the stock records)."""

    def inside(x: float | None) -> bool:
        return x is not None and t0 <= x and (x <= t1 if include_end else x < t1)

    summary = order_summaries(orders)
    done = [o for o in summary.values() if inside(o.delivered)]
    on_time = sum(1 for o in done if o.delivered <= o.due)  # type: ignore[operator]
    leads = np.array([o.delivered - o.arrived for o in done if o.arrived is not None], float)
    p50, p95 = np.percentile(leads, [50, 95]).tolist() if len(leads) else (None, None)
    open_ = [
        o
        for o in summary.values()
        if o.arrived is not None and o.arrived <= t1 and (o.delivered is None or o.delivered > t1)
    ]
    due = [o for o in summary.values() if inside(o.due)]
    met = sum(o.quantity for o in due if o.delivered is not None and o.delivered <= o.due)
    return SupplyValues(
        otd=ratio(on_time, len(done)),
        order_lead_time_avg_s=float(leads.mean()) if len(leads) else None,
        order_lead_time_p50_s=p50,
        order_lead_time_p95_s=p95,
        backlog_orders=len(open_),
        backlog_units=sum(o.quantity for o in open_),
        late_backlog_orders=sum(1 for o in open_ if o.due < t1),
        fill_rate=ratio(met, sum(o.quantity for o in due)),
        stockouts=sum(n for n, _ in stockouts.values()),
        stockout_h=sum(h for _, h in stockouts.values()),
        delivered_orders=len(done),
        stockouts_by_material=stockouts,
    )
