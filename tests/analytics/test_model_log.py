"""KPIs on the real model's log: invariants, and a naive per-record reference implementation.

Skipped until ``plant_sim.simulation`` and ``scenarios/plant_3lines.yaml`` exist.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from analytics import compute_report
from analytics.eventlog import KPI_KINDS, read_columns, read_event_log, write_event_log
from plant_sim.records import PartDone, RunEnd, StateChange
from plant_sim.states import STATE_INFO, IsoElement, StationState, starts_new_stop

SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "plant_3lines.yaml"
DAY = 86400.0


@pytest.fixture(scope="module")
def records():
    """Two days of the three-line plant, seed 1."""
    simulation = pytest.importorskip("plant_sim.simulation")
    scenario = pytest.importorskip("plant_sim.scenario")
    if not SCENARIO.exists():
        pytest.skip("scenarios/plant_3lines.yaml not there yet")
    return simulation.run_batch(scenario.load_scenario(SCENARIO), until_s=2 * DAY, seed=1).records


@pytest.fixture(scope="module")
def report(records):
    """The report over the whole run."""
    return compute_report(records)


def _reference(records, t0: float, t1: float) -> dict[str, dict[str, float]]:
    """Per station APT, PBT, FE, PQ, GQ, energy by a plain loop over the records."""
    end = next(r.t for r in records if isinstance(r, RunEnd))
    out: dict[str, dict[str, float]] = {}
    last: dict[str, StateChange] = {}

    def close(sc: StateChange, until: float) -> None:
        acc = out.setdefault(
            sc.station, dict.fromkeys(("apt", "pbt", "fe", "pq", "gq", "kwh"), 0.0)
        )
        d = max(0.0, min(until, t1) - max(sc.t, t0))
        iso = STATE_INFO[sc.state].iso
        acc["apt"] += d if iso == IsoElement.APT else 0.0
        pbt = (IsoElement.APT, IsoElement.AUST, IsoElement.ADET, IsoElement.ADOT)
        acc["pbt"] += d if iso in pbt else 0.0
        acc["kwh"] += d * sc.power_kw / 3600.0

    for r in records:
        if isinstance(r, StateChange):
            prev = last.get(r.station)
            if prev is not None:
                close(prev, r.t)
            if (
                starts_new_stop(prev.state if prev else None, r.state)
                and r.state == StationState.DOWN
                and t0 <= r.t <= t1
            ):
                out.setdefault(
                    r.station, dict.fromkeys(("apt", "pbt", "fe", "pq", "gq", "kwh"), 0.0)
                )["fe"] += 1
            last[r.station] = r
        elif isinstance(r, PartDone) and t0 <= r.t <= t1:
            acc = out.setdefault(
                r.station, dict.fromkeys(("apt", "pbt", "fe", "pq", "gq", "kwh"), 0.0)
            )
            acc["pq"] += 1
            acc["gq"] += r.result == "good"
    for sc in last.values():
        close(sc, end)
    return out


def test_report_matches_a_naive_reference(records, report):
    """Vectorised elements equal a plain loop over the records, per station."""
    ref = _reference(records, report.t0_s, report.t1_s)
    for s in report.stations:
        e, r = s.elements, ref[s.scope]
        assert math.isclose(e.apt_s, r["apt"], abs_tol=1e-6)
        assert math.isclose(e.pbt_s, r["pbt"], abs_tol=1e-6)
        assert math.isclose(e.energy_kwh, r["kwh"], rel_tol=1e-9, abs_tol=1e-9)
        assert (e.failures, e.pq, e.gq) == (r["fe"], r["pq"], r["gq"])


def test_invariants_hold_on_the_model_log(report):
    """Elements partition the window; PQ = GQ + SQ + RQ; Little's law within 5 %."""
    span = report.t1_s - report.t0_s
    for s in report.stations:
        e = s.elements
        assert math.isclose(e.pbt_s + e.pdot_s + e.outside_s + e.unobserved_s, span, abs_tol=1e-6)
    for s in [report.plant, *report.lines, *report.stations]:
        e = s.elements
        assert e.pq == e.gq + e.sq + e.rq
        assert 0 <= s.kpis.availability <= 1 and 0 <= s.kpis.oee <= 1.05
    assert abs(report.flow["plant"].little_gap_ratio) < 0.05
    for b in report.bottlenecks:
        assert b.momentary_bottleneck is not None
        assert sum(s.sole_bottleneck_ratio for s in b.stations) <= 1 + 1e-9


def test_days_add_up_to_the_run(records, report):
    """Day 1 plus day 2 elements equal the two-day elements for every scope."""
    d1 = compute_report(records, window=(0.0, DAY), shifts=False)
    d2 = compute_report(records, window=(DAY, 2 * DAY), shifts=False)
    for w, a, b in zip(
        [report.plant, *report.lines], [d1.plant, *d1.lines], [d2.plant, *d2.lines], strict=True
    ):
        s = a.elements + b.elements
        for name, value in w.elements.as_fields().items():
            assert math.isclose(getattr(s, name), value, rel_tol=1e-9, abs_tol=1e-6), name


@pytest.mark.parametrize("name", ["run.jsonl", "run.jsonl.gz", "run.parquet"])
def test_saved_log_gives_the_same_report(records, report, tmp_path, name):
    """KPIs from the saved event log, in each format and by each reader, equal those from the
    records in memory: every row of the report, exactly."""
    path = tmp_path / name
    write_event_log(records, path)
    for again in (
        compute_report(read_event_log(path, KPI_KINDS)),
        compute_report(read_columns(path)),
    ):
        assert again.plant == report.plant and again.lines == report.lines
        assert again.to_rows() == report.to_rows()
