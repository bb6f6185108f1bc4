"""Loss analysis: Pareto of downtime by reason, minor stops against breakdowns."""

from __future__ import annotations

import pytest

from analytics import compute_report
from tests.analytics.builders import LogBuilder, S

HOUR = 3600.0


def _log() -> list:
    b = LogBuilder({"line1": ["a", "b"]})
    b.states(
        "a",
        0.0,
        [
            (HOUR, S.PROCESSING),
            (0.5 * HOUR, S.DOWN, "motor"),
            (HOUR, S.PROCESSING),
            (60.0, S.MINOR_STOP, "jam"),
            (HOUR, S.PROCESSING),
            (120.0, S.MINOR_STOP, "jam"),
            (HOUR, S.PROCESSING),
        ],
    )
    b.states(
        "b",
        0.0,
        [
            (HOUR, S.PROCESSING),
            (2 * HOUR, S.DOWN, "tool"),
            (HOUR, S.PROCESSING),
            (HOUR, S.DOWN),
            (HOUR, S.PROCESSING),
        ],
    )
    return b.build(6 * HOUR)


def test_pareto_orders_reasons_by_time():
    """Reasons sorted by stop time with cumulative shares; no reason is "unspecified"."""
    losses = {x.scope: x for x in compute_report(_log()).losses}
    rows = losses["plant"].pareto
    assert [r.key for r in rows] == ["tool", "unspecified", "motor", "jam"]
    assert rows[0].time_s == 2 * HOUR and rows[-1].events == 2
    assert rows[-1].cum_share == pytest.approx(1.0)
    assert rows[0].share == pytest.approx(2 / 3.55, rel=1e-3)


def test_minor_stops_against_breakdowns():
    """Breakdowns and minor stops are counted and timed apart."""
    losses = {x.scope: x for x in compute_report(_log()).losses}
    s = losses["line1"].stops
    assert (s.breakdowns, s.minor_stops) == (3, 2)
    assert s.breakdown_s == 3.5 * HOUR and s.minor_stop_s == 180.0
    assert s.mean_minor_stop_s == 90.0
    assert s.minor_share_of_delay == pytest.approx(180 / (3.5 * HOUR + 180))


def test_reason_rows_carry_station_and_window_cut():
    """A window cutting a stop books only the part inside it; the event is not counted."""
    r = compute_report(_log(), window=(2 * HOUR, 6 * HOUR))
    tool = [x for x in r.reason_losses if x.reason == "tool"]
    assert len(tool) == 1 and tool[0].station == "b"
    assert tool[0].time_s == HOUR and tool[0].events == 0
