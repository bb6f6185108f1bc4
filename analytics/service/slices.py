"""The ``kpi_slice`` measurement: ISO 22400 elements per minute, for KPIs of any time range.

A ratio KPI over a range is a ratio of sums of elements over that range (never an average of
ratios). ``kpi`` stores one point per hour, shift and day, so a range that cuts through them
cannot be answered from it; ``kpi_slice`` stores the *elements* (sums only, no ratio) of every
UTC minute of every scope, so any dashboard range or bucket sums them and divides
(``SELECT sum("apt_s") / sum("pbt_s") FROM "kpi_slice" ...``, see ``dashboards.queries``).

Tags: ``level``, ``line``, ``run_id``, ``scope``, ``shift`` (the shift in force at the minute's
start, ``off`` outside every shift: a bounded tag) and ``site``. A minute ``[m, m+60 s)`` is
stamped at its middle ``m + 30 s``: Grafana's ``time >= from AND time <= to`` then selects
exactly the minutes inside a range whose ends are whole minutes, the nearest minutes
otherwise (at most 30 s off at each end), and ``GROUP BY time(1h)`` puts each minute into the
hour that holds it. Fields are the ``Elements`` sums (``analytics.elements``) plus ``pbt_s``;
lines and the plant add finished parts and the sum of their line lead times; the plant adds
delivered and on-time orders.
"""

from __future__ import annotations

from bisect import bisect_right

import numpy as np

from analytics.columns import PlantColumns
from analytics.elements import BinColumns, rollup_line_bins, rollup_plant_bins, station_bins
from analytics.flow import first_pass_counts, lead_time_bins, order_release_times
from analytics.report import PLANT
from analytics.service.kpi_schema import STORED_ELEMENT_FIELDS, RunMeta, field_set, series_key
from analytics.supply import order_summaries
from analytics.timeline import count_by_bin

SLICE_MEASUREMENT = "kpi_slice"
SLICE_TAGS = ("level", "line", "run_id", "scope", "shift", "site")
SLICE_S = 60
#: Tag value of minutes outside every shift.
OFF_SHIFT = "off"
#: Element fields stored per slice (sums: they add over minutes, scopes never mix).
SLICE_FIELDS = STORED_ELEMENT_FIELDS
#: Plant-only fields: orders delivered in the minute and, of them, those on time.
PLANT_FIELDS = ("delivered_orders", "on_time_orders")
#: Line and plant fields: finished parts that left in the minute and the sum of their line lead
#: times (``line_lead_time_avg_s`` of a range = sum / finished, ``analytics.flow``).
FLOW_FIELDS = ("finished", "line_lead_time_sum_s")


def slice_edges(t0: float, t1: float, start_epoch_ms: int) -> np.ndarray:
    """Return bin edges (simulation s) at every UTC minute inside ``[t0, t1]``, plus both ends."""
    step_ms = SLICE_S * 1000
    first_ms = start_epoch_ms + round(t0 * 1000)
    end_ms = start_epoch_ms + round(t1 * 1000)
    m = first_ms - first_ms % step_ms + step_ms
    inner = np.arange(m, end_ms, step_ms, dtype=np.int64)
    return np.unique(np.concatenate([[t0], (inner - start_epoch_ms) / 1000.0, [t1]]))


def _shift_names(cols: PlantColumns, starts: np.ndarray) -> list[str]:
    times = [t for t, _ in cols.shifts]
    out = []
    for s in starts.tolist():
        k = bisect_right(times, s) - 1
        name = cols.shifts[k][1] if k >= 0 else None
        out.append(name or OFF_SHIFT)
    return out


def _orders(cols: PlantColumns, edges: np.ndarray, inc: bool) -> dict[str, np.ndarray]:
    """Return orders delivered per bin and, of them, those delivered by their due time."""
    done = [o for o in order_summaries(cols.orders).values() if o.delivered is not None]
    t = np.array([o.delivered for o in done], float)
    late = np.array([o.delivered > o.due for o in done], bool)  # type: ignore[operator]
    return {
        "delivered_orders": count_by_bin(t, edges, inc).round().astype(np.int64),
        "on_time_orders": count_by_bin(t[~late], edges, inc).round().astype(np.int64),
    }


def slice_bins(cols: PlantColumns, t0: float, t1: float, start_epoch_ms: int):
    """Return the edges and per-bin elements of every scope: ``{(level, scope, line): cols}``."""
    edges = slice_edges(t0, t1, start_epoch_ms)
    inc = t1 >= cols.end_s
    per_station = {
        (st.line, st.station): station_bins(st, cols.end_s, edges, inc) for st in cols.stations
    }
    out: dict[tuple[str, str, str], BinColumns] = {
        ("station", st, ln): b for (ln, st), b in per_station.items()
    }
    line_bins = []
    released = order_release_times(cols.orders)
    for ln in cols.lines:
        sts = [per_station[(ln.line, s)] for s in ln.stations]
        if sts:
            gp, ip = first_pass_counts(ln, edges, inc)
            bins = dict(rollup_line_bins(sts, gp, ip))
            bins["finished"], bins["line_lead_time_sum_s"] = lead_time_bins(
                ln, edges, released, inc
            )
            out[("line", ln.line, ln.line)] = bins
            line_bins.append(bins)
    if line_bins:
        plant = dict(rollup_plant_bins(line_bins))
        for name in FLOW_FIELDS:
            plant[name] = sum(b[name] for b in line_bins)
        plant.update(_orders(cols, edges, inc))
        out[("plant", PLANT, PLANT)] = plant
    return edges, out


def slice_lines(cols: PlantColumns, t0: float, t1: float, run: RunMeta) -> list[str]:
    """Return the ``kpi_slice`` lines of every minute of ``[t0, t1)`` (simulation s)."""
    if t1 <= t0:
        return []
    edges, scopes = slice_bins(cols, t0, t1, run.start_epoch_ms)
    starts = edges[:-1]
    shifts = _shift_names(cols, starts)
    step_ms = SLICE_S * 1000
    stamp_ms = [
        (ms - ms % step_ms) + step_ms // 2
        for ms in (run.start_epoch_ms + np.round(starts * 1000)).astype(np.int64).tolist()
    ]
    out = []
    for (level, scope, line), bins in scopes.items():
        bins = dict(bins)
        bins["pbt_s"] = bins["apt_s"] + bins["aust_s"] + bins["adet_s"] + bins["adot_s"]
        names = SLICE_FIELDS + (FLOW_FIELDS if level != "station" else ())
        names += PLANT_FIELDS if level == "plant" else ()
        # Field names are fixed (escaped once); every value is a float, as in ``kpi``.
        keys = [field_set({n: 0.0}).rsplit("=", 1)[0] + "=" for n in names]
        columns = [np.asarray(bins[n], dtype=float).tolist() for n in names]
        series = {}
        for k, ts in enumerate(stamp_ms):
            tags = {
                "level": level,
                "line": line,
                "run_id": run.run_id,
                "scope": scope,
                "shift": shifts[k],
                "site": run.site,
            }
            if shifts[k] not in series:
                series[shifts[k]] = series_key(SLICE_MEASUREMENT, tags)
            fields = ",".join([key + repr(col[k]) for key, col in zip(keys, columns, strict=True)])
            out.append(f"{series[shifts[k]]} {fields} {ts * 1_000_000}")
    return out
