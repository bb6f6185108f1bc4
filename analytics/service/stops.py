"""The ``kpi_stop`` measurement: one point per breakdown, with its station, reason and duration.

A breakdown is a run of DOWN intervals of one station (an entry into DOWN after any other
state, also after a pause such as off shift). Its point is stamped at its start; every KPI hour
it overlaps writes the point again with the duration known then, so the last one (the hour it
ends in) leaves the full duration and ``ended`` = 1. Tags: ``line``, ``run_id``, ``site``,
``station``; fields: ``reason``, ``duration_s``, ``ended`` (0 or 1) and ``text`` (what the
dashboards' breakdown annotation shows).
"""

from __future__ import annotations

import numpy as np

from analytics.columns import STATE_CODES, PlantColumns
from analytics.service.kpi_schema import RunMeta, field_set, series_key
from analytics.timeline import interval_ends
from plant_sim.payloads import epoch_ms
from plant_sim.states import StationState

STOP_MEASUREMENT = "kpi_stop"
_DOWN = STATE_CODES[StationState.DOWN]


def stop_lines(cols: PlantColumns, t0: float, t1: float, run: RunMeta) -> list[str]:
    """Return the ``kpi_stop`` lines of every breakdown overlapping ``[t0, t1)``."""
    out = []
    for st in cols.stations:
        if not len(st.t):
            continue
        down = st.code == _DOWN
        ends = interval_ends(st.t, cols.end_s)
        first = down & ~np.concatenate([[False], down[:-1]])
        last = down & ~np.concatenate([down[1:], [False]])
        for i, j in zip(np.flatnonzero(first), np.flatnonzero(last), strict=True):
            start, end = float(st.t[i]), float(ends[j])
            if end <= t0 or start >= t1:
                continue
            ended = j + 1 < len(st.t)
            reason = str(st.reason[i] or "unspecified")
            minutes = (end - start) / 60.0
            text = f"{st.station} down ({reason}) for {minutes:.1f} min" + (
                "" if ended else ", ongoing"
            )
            tags = {"line": st.line, "run_id": run.run_id, "site": run.site, "station": st.station}
            fields = field_set(
                {"reason": reason, "duration_s": end - start, "ended": float(ended), "text": text}
            )
            ts = epoch_ms(run.start_epoch_ms, start) * 1_000_000
            out.append(f"{series_key(STOP_MEASUREMENT, tags)} {fields} {ts}")
    return out
