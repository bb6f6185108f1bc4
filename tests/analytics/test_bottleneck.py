"""Bottleneck detection by the active period method on simulated serial lines."""

from __future__ import annotations

import tracemalloc
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from analytics import bottleneck, compute_report
from analytics.bottleneck import LineBottlenecks, detect_bottlenecks
from analytics.columns import STATE_CODES, PlantColumns, StationColumns, to_columns
from plant_sim.scenario import load_scenario
from plant_sim.simulation import run_batch
from plant_sim.states import StationState
from tests.analytics.linesim import StationSpec, simulate_line

ROOT = Path(__file__).resolve().parents[2]
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


@cache
def _model_run(name: str, hours: float, seed: int) -> PlantColumns:
    scenario = load_scenario(ROOT / "scenarios" / f"{name}.yaml")
    return to_columns(run_batch(scenario, hours * HOUR, seed).records)


def _fed_at_random(acc: LineBottlenecks, stations: list[StationColumns], seed: int) -> None:
    """Add each station's records to ``acc`` in chunks of random size (1 to 400 records),
    the stations taking turns at random, each in time order."""
    rng = np.random.default_rng(seed)
    done = [0] * len(stations)
    while live := [j for j, st in enumerate(stations) if done[j] < len(st.t)]:
        j = int(rng.choice(live))
        lo, hi = done[j], done[j] + int(rng.integers(1, 401))
        acc.add(j, stations[j].t[lo:hi], stations[j].code[lo:hi])
        done[j] = min(hi, len(stations[j].t))


@pytest.mark.parametrize(
    ("name", "hours", "seed"), [("bottling_line", 30, 3), ("plant_3lines", 40, 1)]
)
@pytest.mark.parametrize("losers_at", [0, 10**9])
def test_folded_bottlenecks_equal_those_of_the_whole_columns(
    name, hours, seed, losers_at, monkeypatch
):
    """Fed in random chunks, stations interleaved at random, the accumulator gives the
    result of the whole columns, to the bit: over the run (its end given only at the end,
    as while a run streams) and over a window inside it; the periods that cannot be the
    bottleneck dropped at every step or never."""
    monkeypatch.setattr(bottleneck, "_LOSERS_AT", losers_at)
    cols = _model_run(name, hours, seed)
    t0, end = cols.start_s, cols.end_s
    for k, ln in enumerate(cols.lines):
        stations = cols.line_stations(ln.line)
        names = [st.station for st in stations]
        for w0, w1 in ((t0, None), (t0 + 5 * HOUR + 0.5, t0 + 0.6 * (end - t0))):
            acc = LineBottlenecks(ln.line, names, w0, w1)
            _fed_at_random(acc, stations, seed + k)
            want = detect_bottlenecks(ln.line, stations, end, w0, end if w1 is None else w1)
            assert acc.result(end) == want
            assert want.working_s > 0 and want.momentary_bottleneck is not None


def _most_held(hours: float) -> tuple[int, int]:
    """Return the most periods and work runs the bottling line's accumulator holds while a
    run of ``hours`` is fed in time order, half an hour of every station at a time, and the
    number of state records."""
    cols = _model_run("bottling_line", hours, 3)
    stations = cols.line_stations(cols.lines[0].line)
    acc = LineBottlenecks("line1", [st.station for st in stations], cols.start_s)
    most = 0
    for t in np.arange(cols.start_s, cols.end_s + HOUR, HOUR / 2):
        for j, st in enumerate(stations):
            lo, hi = np.searchsorted(st.t, [t, t + HOUR / 2], "left")
            acc.add(j, st.t[lo:hi], st.code[lo:hi])
        most = max(most, acc.held())
    acc.result(cols.end_s)
    return most, sum(len(st.t) for st in stations)


def test_what_the_accumulator_holds_does_not_grow_with_the_horizon():
    """While a run streams the accumulator holds active periods only while the momentary
    bottleneck before them is open (one station's active period still going on and a
    station quiet since before them) and work runs not merged yet: what it holds at once
    depends on how long a station stays in one state, not on the run's length. Counted:
    four times the horizon (six times the records) holds less than twice as much at most,
    a small share of the line's state records."""
    short, short_records = _most_held(12)
    long, long_records = _most_held(48)
    assert long_records > 5 * short_records
    assert long < 2 * short
    assert long < long_records / 50


def test_a_period_reaching_past_what_is_known_of_the_open_one_is_kept(monkeypatch):
    """While a's active period [0, 100) is open and known up to 80 s, b's period [10, 20)
    lies inside it and can be dropped, but b's [85, 130) reaches past 80 s: a ends first,
    so b is the momentary bottleneck from 100 s to 130 s (sole), the overlap [85, 100)
    shifting for both."""
    monkeypatch.setattr(bottleneck, "_LOSERS_AT", 0)
    run, wait = STATE_CODES[StationState.PROCESSING], STATE_CODES[StationState.STARVED]
    acc = LineBottlenecks("L", ["a", "b"], 0.0)
    acc.add(0, np.array([0.0, 80.0]), np.array([run, run], np.int8))
    acc.add(1, np.array([10.0, 20.0, 85.0, 130.0]), np.array([run, wait, run, wait], np.int8))
    assert acc.held() == 1  # [10, 20) dropped: inside a's known 80 s
    acc.add(0, np.array([100.0]), np.array([wait], np.int8))
    a, b = acc.result(150.0).stations
    assert (a.sole_bottleneck_ratio, b.sole_bottleneck_ratio) == (85 / 150, 30 / 150)
    assert a.shifting_bottleneck_ratio == b.shifting_bottleneck_ratio == 15 / 150


def test_a_station_quiet_for_long_does_not_make_the_others_periods_pile_up():
    """Station a waits from the start and sends nothing more; b works and waits in turn.
    Told that every record up to a time is in (``known_until``, as the streamed report does
    at each folded shift), the accumulator works through b's periods as they close; without
    it, a's last record holds the frontier back and every period of b is kept. Either way
    the result is that of the whole columns, to the bit."""
    run, wait = STATE_CODES[StationState.PROCESSING], STATE_CODES[StationState.STARVED]
    b_t = np.arange(0.0, 40_000.0, 10.0)
    b_code = np.where(np.arange(len(b_t)) % 2 == 0, run, wait).astype(np.int8)
    a_t, a_code = np.array([0.0]), np.array([wait], np.int8)
    end = 40_000.0
    whole = [
        StationColumns("L", "a", a_t, a_code, *_no_parts(1)),
        StationColumns("L", "b", b_t, b_code, *_no_parts(len(b_t))),
    ]
    want = detect_bottlenecks("L", whole, end, 0.0, end)
    most = {}
    for told in (True, False):
        acc = LineBottlenecks("L", ["a", "b"], 0.0)
        acc.add(0, a_t, a_code)
        most[told] = 0
        for lo in range(0, len(b_t), 100):
            acc.add(1, b_t[lo : lo + 100], b_code[lo : lo + 100])
            if told:
                acc.known_until(float(b_t[min(lo + 100, len(b_t) - 1)]))
            most[told] = max(most[told], acc.held())
        assert acc.result(end) == want
    assert most[True] < 10 and most[False] > 1_900


def _no_parts(n: int) -> tuple:
    """The power, reason and part columns of a station with ``n`` state records and no parts."""
    return np.zeros(n), np.full(n, None, object), np.empty(0), np.empty(0, np.int8), np.empty(0)
