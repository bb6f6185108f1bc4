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
from analytics.timeline import step_mean
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


def _stock(levels: Sequence[StockLevel] | StockColumns, t0: float, t1: float, inc: bool) -> dict:
    """Return ``{material: (stock-outs started in window, hours out)}``."""
    cols = levels if isinstance(levels, StockColumns) else stock_columns(levels)
    t_all, lv_all, mat = cols.t, cols.level, cols.material
    short = np.array([c == SHORTAGE for c in cols.causes], bool)[cols.cause]
    out_all = (lv_all <= 0) | short
    codes = {m: i for i, m in enumerate(cols.materials)}
    out: dict[str, tuple[int, float]] = {}
    for name, i in codes.items():
        pick = mat == i
        t, empty = t_all[pick], out_all[pick]
        order = np.argsort(t, kind="stable")
        t, empty = t[order], empty[order]
        last = np.concatenate([t[1:] != t[:-1], [True]])  # the last record at each time
        t, empty = t[last], empty[last]
        starts = empty & ~np.concatenate([[False], empty[:-1]])
        inside = (t >= t0) & ((t <= t1) if inc else (t < t1))
        hours = 0.0
        if t1 > t0:
            hours = step_mean(t, empty.astype(float), t0, t1, 0.0) * (t1 - t0) / 3600.0
        out[name] = (int((starts & inside).sum()), float(hours))
    return out


def compute_supply(
    orders: Sequence[OrderEvent],
    stock: Sequence[StockLevel] | StockColumns,
    t0: float,
    t1: float,
    include_end: bool = True,
) -> SupplyValues:
    """Return the supply-chain KPIs over ``[t0, t1)`` (``include_end``: count events at t1)."""

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
    stock_by_mat = _stock(stock, t0, t1, include_end)
    return SupplyValues(
        otd=ratio(on_time, len(done)),
        order_lead_time_avg_s=float(leads.mean()) if len(leads) else None,
        order_lead_time_p50_s=p50,
        order_lead_time_p95_s=p95,
        backlog_orders=len(open_),
        backlog_units=sum(o.quantity for o in open_),
        late_backlog_orders=sum(1 for o in open_ if o.due < t1),
        fill_rate=ratio(met, sum(o.quantity for o in due)),
        stockouts=sum(n for n, _ in stock_by_mat.values()),
        stockout_h=sum(h for _, h in stock_by_mat.values()),
        delivered_orders=len(done),
        stockouts_by_material=stock_by_mat,
    )
