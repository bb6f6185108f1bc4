"""Roll-up to line and plant: sums of elements, line output counted at the last station."""

from __future__ import annotations

import pytest

from analytics import Elements, compute_kpis, compute_report, rollup_line, rollup_plant
from tests.analytics.builders import LogBuilder, S

HOUR = 3600.0


def _two_station_line() -> list:
    """st1 runs 1 h; st2 runs 30 min and is down 30 min; st1 scraps 5 of 60 parts."""
    b = LogBuilder({"line1": ["st1", "st2"], "line2": ["st3"]})
    b.states("st1", 0.0, [(HOUR, S.PROCESSING)])
    b.states("st2", 0.0, [(HOUR / 2, S.PROCESSING), (HOUR / 2, S.DOWN, "belt")])
    b.states("st3", 0.0, [(HOUR, S.PROCESSING)])
    for i in range(60):
        b.part(60.0 * (i + 1), "st1", f"a{i}", "scrap" if i < 5 else "good", 60.0)
    for i in range(30):
        b.part(60.0 * (i + 1), "st2", f"a{i + 5}", "rework" if i == 0 else "good", 60.0)
    b.parts("st3", 60.0, 60, 60.0, spacing=60.0)
    for i in range(30):
        b.release(0.0, "line1", f"a{i + 5}")
        b.leave(60.0 * (i + 1), "line1", f"a{i + 5}", 60.0 * (i + 1))
    for i in range(5):
        b.leave(60.0 * (i + 1), "line1", f"a{i}", 60.0, outcome="scrapped")
    return b.build(HOUR)


def test_line_elements_are_sums_and_output_is_at_the_last_station():
    """Line time = Σ stations; PQ = last PQ + upstream scrap; GQ, RQ from the last station."""
    r = compute_report(_two_station_line())
    line, st1, st2 = r.scope("line1"), r.scope("st1"), r.scope("st2")
    e = line.elements
    assert e.pbt_s == st1.elements.pbt_s + st2.elements.pbt_s == 2 * HOUR
    assert e.apt_s == 1.5 * HOUR and e.window_s == HOUR
    assert (e.pq, e.gq, e.sq, e.rq) == (35, 29, 5, 1)
    assert e.pq == e.gq + e.sq + e.rq
    assert line.kpis.availability == pytest.approx(0.75)  # ΣAPT / ΣPBT, not min or mean
    assert line.kpis.throughput_uph == pytest.approx(35.0)
    assert line.kpis.energy_kwh == pytest.approx(2.0)
    assert line.kpis.epgu_kwh == pytest.approx(2.0 / 29)
    assert line.kpis.fpy == pytest.approx(29 / 35)  # from exits: a5 was reworked


def test_line_oee_is_not_the_minimum_or_mean_of_station_oee():
    """Ratios of sums: line OEE is A × E × QR of the summed elements."""
    r = compute_report(_two_station_line())
    line = r.scope("line1").kpis
    assert line.oee == pytest.approx(line.availability * line.effectiveness * line.quality_ratio)
    st = [r.scope(s).kpis.oee for s in ("st1", "st2")]
    assert line.oee != pytest.approx(min(st)) and line.oee != pytest.approx(sum(st) / 2)


def test_plant_is_the_sum_of_lines():
    """Plant elements are the lines' sums with the window taken once."""
    r = compute_report(_two_station_line())
    lines = [r.scope("line1").elements, r.scope("line2").elements]
    assert r.plant.elements == rollup_plant(lines)
    assert r.plant.elements.pq == 35 + 60 and r.plant.elements.window_s == HOUR


def test_object_rollup_matches_the_report():
    """``rollup_line`` on Elements objects gives what the report computes on columns."""
    r = compute_report(_two_station_line())
    sts = [r.scope("st1").elements, r.scope("st2").elements]
    line = r.scope("line1").elements
    assert rollup_line(sts, line.gp, line.ip) == line


def test_adding_elements_adds_every_field():
    """``a + b`` is the union of two adjacent windows of the same scope."""
    a = Elements(window_s=10, calendar_s=10, apt_s=6, adot_s=4, pq=3, gq=2, sq=1, pri_pq_s=5)
    b = Elements(window_s=5, calendar_s=5, apt_s=5, pq=2, gq=2, pri_pq_s=4)
    s = a + b
    assert (s.window_s, s.apt_s, s.pq, s.pri_pq_s) == (15, 11, 5, 9)
    assert compute_kpis(s).availability == pytest.approx(11 / 15)
