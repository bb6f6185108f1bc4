"""Bottleneck detection by the active period method on simulated serial lines."""

from __future__ import annotations

import pytest

from analytics import compute_report
from analytics.bottleneck import detect_bottlenecks
from analytics.columns import to_columns
from tests.analytics.linesim import StationSpec, simulate_line

HOUR = 3600.0


def test_clearly_slowest_station_is_found():
    """With one station at 80 s and the rest at 50 s, it is the sole bottleneck."""
    specs = [StationSpec(50), StationSpec(50), StationSpec(80), StationSpec(50), StationSpec(50)]
    b = compute_report(simulate_line(specs, 8 * HOUR)).bottlenecks[0]
    assert b.average_bottleneck == b.momentary_bottleneck == "L-s3"
    st = {s.station: s for s in b.stations}
    assert st["L-s3"].sole_bottleneck_ratio > 0.9
    assert st["L-s3"].blocked_ratio == 0.0
    assert st["L-s2"].blocked_ratio > 0.3 and st["L-s4"].starved_ratio > 0.3
    assert b.shifting_ratio < 0.05


def test_failure_prone_and_slow_station_alternate_as_a_shifting_bottleneck():
    """A slow station and a fast one with long repairs share the bottleneck, shifting."""
    specs = [
        StationSpec(50),
        StationSpec(60),
        StationSpec(50),
        StationSpec(45, fail_every=60, repair_s=3600),
        StationSpec(50),
    ]
    b = compute_report(simulate_line(specs, 48 * HOUR, buffer_cap=3)).bottlenecks[0]
    st = {s.station: s for s in b.stations}
    ranked = sorted(st.values(), key=lambda s: -s.bottleneck_ratio)
    assert {ranked[0].station, ranked[1].station} == {"L-s2", "L-s4"}
    for name in ("L-s2", "L-s4"):
        assert st[name].sole_bottleneck_ratio > 0.2
        assert st[name].shifting_bottleneck_ratio > 0.1
    assert ranked[2].bottleneck_ratio < 0.05
    assert b.shifting_ratio > 0.1


def test_shifting_overlap_is_counted_for_both_stations():
    """Two overlapping active periods: the overlap is shifting time for both stations."""
    from tests.analytics.builders import LogBuilder, S

    b = LogBuilder({"L": ["a", "b"]})
    b.states("a", 0.0, [(100.0, S.PROCESSING), (200.0, S.BLOCKED)])
    b.states("b", 0.0, [(80.0, S.STARVED), (220.0, S.PROCESSING)])
    cols = to_columns(b.build(300.0))
    res = detect_bottlenecks("L", cols.line_stations("L"), cols.end_s, 0.0, 300.0)
    a, bb = res.stations
    # a: period [0, 100) is longest until b's [80, 300) starts; overlap [80, 100) shifts.
    assert a.sole_bottleneck_ratio == pytest.approx(80 / 300)
    assert bb.sole_bottleneck_ratio == pytest.approx(200 / 300)
    assert a.shifting_bottleneck_ratio == bb.shifting_bottleneck_ratio == pytest.approx(20 / 300)
    assert res.momentary_bottleneck == "b" and res.average_bottleneck == "b"
