"""Per-station results of each shift equal the station's results over that shift's window."""

from __future__ import annotations

import pytest

from analytics.report import compute_report
from plant_sim.scenario import load_scenario
from plant_sim.simulation import run_batch
from tests.plant_sim.helpers import SCENARIOS

DAY = 86400.0


@pytest.fixture(scope="module")
def records():
    return run_batch(load_scenario(SCENARIOS / "bottling_line.yaml"), until_s=2 * DAY).records


def test_each_shift_has_every_station_and_matches_its_own_window(records) -> None:
    report = compute_report(records)
    assert len(report.shifts) >= 3
    names = {s.scope for s in report.stations}
    for sh in report.shifts[:3]:
        assert {s.scope for s in sh.stations} == names
        alone = compute_report(records, window=(sh.t0_s, sh.t1_s), shifts=False)
        for st in sh.stations:
            want = alone.scope(st.scope)
            assert st.elements.pbt_s == pytest.approx(want.elements.pbt_s)
            assert st.kpis.oee == pytest.approx(want.kpis.oee)
            assert st.kpis.availability == pytest.approx(want.kpis.availability)


def test_shift_totals_per_station_sum_their_occurrences(records) -> None:
    report = compute_report(records)
    for total in report.shift_totals:
        occurrences = [sh for sh in report.shifts if sh.shift == total.shift]
        for st in total.stations:
            parts = [s for sh in occurrences for s in sh.stations if s.scope == st.scope]
            assert st.elements.apt_s == pytest.approx(sum(p.elements.apt_s for p in parts))
            assert st.elements.pq == sum(p.elements.pq for p in parts)


def test_rows_carry_station_shift_results(records) -> None:
    rows = compute_report(records).to_rows()
    shift_station = [
        r for r in rows if str(r["window"]).startswith("shift:") and r["level"] == "station"
    ]
    assert shift_station and any(r["metric"] == "oee" for r in shift_station)
