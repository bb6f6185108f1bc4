"""Bottleneck detection by the active period method on simulated serial lines."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from analytics import bottleneck, compute_report
from analytics.bottleneck import detect_bottlenecks
from analytics.columns import STATE_CODES, StationColumns, to_columns
from plant_sim.states import StationState
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


def _busy_station(name: str, intervals: int, rng: np.random.Generator) -> StationColumns:
    """A station switching at random among processing, starved, blocked and down."""
    states = [StationState.PROCESSING, StationState.STARVED, StationState.BLOCKED]
    codes = np.array([STATE_CODES[s] for s in [*states, StationState.DOWN]], np.int8)
    t = np.cumsum(rng.exponential(30.0, intervals))
    none, empty = np.full(intervals, None, object), np.empty(0)
    code = codes[rng.integers(0, 4, intervals)]
    return StationColumns("L", name, t, code, np.zeros(intervals), none, empty, empty, empty)


def _long_line() -> tuple[list[StationColumns], float]:
    rng = np.random.default_rng(7)
    stations = [_busy_station(f"s{i}", 100_000, rng) for i in range(4)]
    return stations, float(max(st.t[-1] for st in stations)) + 1.0


def test_bottleneck_memory_of_a_long_line_stays_within_its_state_columns():
    """Detecting the bottleneck of a long line (400,000 state intervals) allocates at most
    twice the bytes of its time and state columns at once: the momentary method works
    through the segments in time windows and through its runs in chunks (it took 5.4 times
    with one pass over the whole line, 2.5 times with the segments in chunks)."""
    stations, end = _long_line()
    held = sum(st.t.nbytes + st.code.nbytes for st in stations)
    tracemalloc.start()
    try:
        detect_bottlenecks("L", stations, end, 0.0, end)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak <= 2 * held


@pytest.mark.parametrize(("chunk", "window"), [(97, 10**9), (1, 1), (5, 613), (3000, 40)])
def test_momentary_bottleneck_does_not_depend_on_the_chunk_size(monkeypatch, chunk, window):
    """The segments are worked through in time windows and chunks, the runs in chunks; any
    sizes give the same figures, to the last bit."""
    stations, end = _long_line()
    stations = [
        StationColumns(*(getattr(st, f) for f in StationColumns.__slots__)) for st in stations
    ]
    for st in stations:
        st.t, st.code = st.t[:3000], st.code[:3000]
    whole = detect_bottlenecks("L", stations, end, 0.0, end)
    part = detect_bottlenecks("L", stations, end, 5000.0, 0.5 * end)
    monkeypatch.setattr(bottleneck, "_CHUNK", chunk)
    monkeypatch.setattr(bottleneck, "_WINDOW", window)
    assert detect_bottlenecks("L", stations, end, 0.0, end) == whole
    assert detect_bottlenecks("L", stations, end, 5000.0, 0.5 * end) == part
