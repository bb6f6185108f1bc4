"""Hand-built logs with known answers: ideal, 80 % A, 80 % QR, calendars, windows."""

from __future__ import annotations

import pytest

from analytics import compute_report
from tests.analytics.builders import MIN, LogBuilder, S

HOUR = 3600.0


def _ideal(b: LogBuilder, station: str = "st1", t0: float = 0.0, hours: float = 1.0) -> float:
    """Process for ``hours`` making one good part every PRI = 60 s; return the end time."""
    end = b.states(station, t0, [(hours * HOUR, S.PROCESSING)])
    b.parts(station, t0 + 60.0, int(hours * 60), 60.0, spacing=60.0)
    return end


def test_ideal_producer_is_100_percent_on_every_factor():
    """Producing at the planned rate all planned time, all good: A = E = QR = OEE = 1."""
    b = LogBuilder()
    k = compute_report(b.build(_ideal(b))).scope("st1").kpis
    assert (k.availability, k.effectiveness, k.quality_ratio) == (1.0, 1.0, 1.0)
    assert k.oee == pytest.approx(1.0) and k.nee == pytest.approx(1.0)
    assert (k.technical_eff, k.setup_rate, k.scrap_ratio, k.fpy) == (1.0, 0.0, 0.0, 1.0)
    assert k.throughput_uph == pytest.approx(60.0)
    assert k.mtbf_h is None and k.mttr_h is None  # no failure: undefined, not 0


def test_80_percent_availability():
    """48 min producing and 12 min down in a planned hour: A = 0.8, OEE = 0.8."""
    b = LogBuilder()
    end = b.states("st1", 0.0, [(48 * MIN, S.PROCESSING), (12 * MIN, S.DOWN, "motor")])
    b.parts("st1", 60.0, 48, 60.0, spacing=60.0)
    r = compute_report(b.build(end)).scope("st1")
    k = r.kpis
    assert k.availability == pytest.approx(0.8)
    assert k.effectiveness == pytest.approx(1.0) and k.quality_ratio == 1.0
    assert k.oee == pytest.approx(0.8)
    assert k.technical_eff == pytest.approx(0.8)
    assert k.failures == 1
    assert k.mtbf_h == pytest.approx(0.8) and k.mttr_h == pytest.approx(0.2)


def test_80_percent_quality():
    """A full hour at the planned rate, one part in five scrapped: QR = OEE = 0.8."""
    b = LogBuilder()
    end = b.states("st1", 0.0, [(HOUR, S.PROCESSING)])
    for i in range(60):
        b.part(60.0 * (i + 1), "st1", f"p{i}", "scrap" if i % 5 == 0 else "good", 60.0)
    k = compute_report(b.build(end)).scope("st1").kpis
    assert k.availability == 1.0 and k.effectiveness == pytest.approx(1.0)
    assert k.quality_ratio == pytest.approx(0.8)
    assert k.scrap_ratio == pytest.approx(0.2) and k.rework_ratio == 0.0
    assert k.oee == pytest.approx(0.8)


def test_calendar_with_shifts_breaks_and_maintenance_excludes_planned_time():
    """Off shift and planned maintenance are outside PBT; only the unplanned stop is a loss."""
    b = LogBuilder()
    t = b.states(
        "st1",
        0.0,
        [
            (2 * HOUR, S.OFF_SHIFT),  # night: outside POT
            (3 * HOUR, S.PROCESSING),
            (0.5 * HOUR, S.PLANNED_DOWNTIME),  # break: planned down time
            (3 * HOUR, S.PROCESSING),
            (1 * HOUR, S.PLANNED_DOWNTIME),  # planned maintenance
            (1.5 * HOUR, S.PROCESSING),
            (0.5 * HOUR, S.DOWN, "hydraulics"),
            (2 * HOUR, S.OFF_SHIFT),
        ],
    )
    b.parts("st1", 2 * HOUR + 60, 180, 60.0, spacing=60.0)
    b.parts("st1", 5.5 * HOUR + 60, 180, 60.0, spacing=60.0)
    b.parts("st1", 9.5 * HOUR + 60, 90, 60.0, spacing=60.0)
    b.shift(2 * HOUR, "early").shift(11.5 * HOUR, None)
    r = compute_report(b.build(t))
    e, k = r.scope("st1").elements, r.scope("st1").kpis
    assert e.outside_s == 4 * HOUR and e.pdot_s == 1.5 * HOUR
    assert e.pbt_s == 8 * HOUR and e.pot_s == 9.5 * HOUR
    assert k.availability == pytest.approx(7.5 / 8)
    assert k.oee == pytest.approx(7.5 / 8)
    assert e.calendar_s == 13.5 * HOUR
    (early,) = r.shift_totals
    assert early.shift == "early" and early.plant.kpis.availability == pytest.approx(7.5 / 8)
    assert len(r.shifts) == 1 and (r.shifts[0].t0_s, r.shifts[0].t1_s) == (2 * HOUR, 11.5 * HOUR)


def test_window_cutting_through_intervals():
    """A window from minute 30 to 90 takes the part of each interval inside it."""
    b = LogBuilder()
    end = b.states("st1", 0.0, [(HOUR, S.PROCESSING), (HOUR, S.DOWN, "x")], power_kw=6.0)
    b.parts("st1", 30.0, 60, 60.0, spacing=60.0)  # at 0:30, 1:30, ... 59:30
    b.part(30 * MIN, "st1", "edge", "scrap", 60.0)  # exactly at the window start: inside
    r = compute_report(b.build(end), window=(30 * MIN, 90 * MIN)).scope("st1")
    e, k = r.elements, r.kpis
    assert (e.apt_s, e.down_s, e.calendar_s) == (30 * MIN, 30 * MIN, 60 * MIN)
    assert e.failures == 1 and (e.pq, e.sq) == (31, 1)
    assert k.availability == pytest.approx(0.5)
    later = compute_report(b.build(end), window=(90 * MIN, 120 * MIN)).scope("st1")
    assert later.elements.failures == 0 and later.elements.down_s == 30 * MIN
    assert later.kpis.mttr_h is None  # the stop began before this window
    assert e.energy_kwh == pytest.approx(6.0)


def test_window_with_no_production_is_undefined_not_zero():
    """Off shift: every time-based KPI is None; planned but idle: A = 0, E, QR, OEE, NEE None."""
    b = LogBuilder()
    end = b.states("st1", 0.0, [(HOUR, S.OFF_SHIFT), (HOUR, S.STARVED), (HOUR, S.PROCESSING)])
    b.parts("st1", 2 * HOUR + 60, 60, 60.0, spacing=60.0)
    records = b.build(end)
    off = compute_report(records, window=(0.0, HOUR)).scope("st1")
    for name in (
        "availability",
        "effectiveness",
        "quality_ratio",
        "oee",
        "nee",
        "technical_eff",
        "setup_rate",
        "scrap_ratio",
        "fpy",
        "epu_kwh",
        "mtbf_h",
    ):
        assert getattr(off.kpis, name) is None, name
    assert any("no planned busy time" in n for n in off.notes)
    idle = compute_report(records, window=(HOUR, 2 * HOUR)).scope("st1").kpis
    assert idle.availability == 0.0
    assert idle.effectiveness is None and idle.quality_ratio is None
    assert idle.oee is None and idle.nee is None  # a factor (E, QR) is undefined
    assert idle.epgu_kwh is None and idle.technical_eff is None


def test_effectiveness_above_100_percent_is_flagged_not_clamped():
    """Real cycles faster than PRI give E > 1, reported as measured and flagged."""
    b = LogBuilder()
    end = b.states("st1", 0.0, [(HOUR, S.PROCESSING)])
    b.parts("st1", 60.0, 66, 60.0, spacing=54.0)
    r = compute_report(b.build(end)).scope("st1")
    assert r.kpis.effectiveness == pytest.approx(66 / 60)
    assert r.kpis.effectiveness_over_100
    assert any("above 100" in n for n in r.notes)


def test_energy_idle_and_per_unit():
    """Energy is power x duration; idle energy covers ADOT and PDOT."""
    b = LogBuilder()
    b.state(0.0, "st1", S.PROCESSING, power_kw=10.0)
    b.state(HOUR, "st1", S.STARVED, power_kw=2.0)
    b.state(2 * HOUR, "st1", S.PLANNED_DOWNTIME, power_kw=1.0)
    b.parts("st1", 60.0, 50, 60.0, spacing=60.0)
    b.part(3000.0, "st1", "bad", "scrap", 60.0)
    k = compute_report(b.build(3 * HOUR)).scope("st1").kpis
    assert k.energy_kwh == pytest.approx(13.0)
    assert k.idle_energy_kwh == pytest.approx(3.0)
    assert k.epu_kwh == pytest.approx(13.0 / 51) and k.epgu_kwh == pytest.approx(13.0 / 50)


def test_failure_resumed_after_a_pause_is_one_failure():
    """DOWN, off shift, DOWN again is one failure event (``starts_new_stop``)."""
    b = LogBuilder()
    end = b.states(
        "st1",
        0.0,
        [
            (HOUR, S.PROCESSING),
            (HOUR, S.DOWN, "a"),
            (HOUR, S.OFF_SHIFT),
            (HOUR, S.DOWN, "a"),
            (HOUR, S.PROCESSING),
        ],
    )
    b.parts("st1", 60.0, 60, 60.0, spacing=60.0)
    k = compute_report(b.build(end)).scope("st1").kpis
    assert k.failures == 1 and k.mttr_h == pytest.approx(2.0) and k.mtbf_h == pytest.approx(2.0)


def test_material_starvation_is_counted_apart():
    """STARVED with reason "material" counts as starved and as starved-for-material hours."""
    b = LogBuilder()
    end = b.states(
        "st1", 0.0, [(HOUR, S.STARVED, "material"), (HOUR, S.STARVED), (HOUR, S.PROCESSING)]
    )
    r = compute_report(b.build(end)).scope("st1")
    assert r.elements.starved_s == 2 * HOUR
    assert r.kpis.material_starved_h == pytest.approx(1.0)
    assert r.kpis.starved_ratio == pytest.approx(2 / 3)


def test_window_end_before_start_is_rejected():
    """A reversed window is a clear error naming the window."""
    b = LogBuilder()
    with pytest.raises(ValueError, match="window"):
        compute_report(b.build(_ideal(b)), window=(100.0, 50.0))


def test_empty_window_and_window_past_the_run_end():
    """A zero-length window gives undefined KPIs; time after the run end is unobserved."""
    b = LogBuilder()
    records = b.build(_ideal(b))
    empty = compute_report(records, window=(600.0, 600.0))
    assert empty.plant.kpis.availability is None and empty.plant.kpis.throughput_uph is None
    assert empty.flow["plant"].wip_avg is None
    past = compute_report(records, window=(0.0, 2 * HOUR)).scope("st1").elements
    assert past.unobserved_s == HOUR and past.apt_s == HOUR and past.pq == 60


def test_oee_is_undefined_when_a_factor_is_undefined():
    """PQ = 0 (QR undefined) or APT = 0 (E undefined): OEE and NEE None; time losses stay 0."""
    from analytics.cli import fmt_value
    from analytics.losses import loss_views

    b = LogBuilder()
    end = b.states("st1", 0.0, [(HOUR, S.SETUP), (HOUR, S.PROCESSING)])
    b.parts("st1", HOUR + 60.0, 60, 60.0, spacing=60.0)
    setup = compute_report(b.build(end), window=(0.0, HOUR)).scope("st1")
    k = setup.kpis
    assert k.availability == 0.0 and k.effectiveness is None and k.quality_ratio is None
    assert k.oee is None and k.nee is None
    assert fmt_value("oee", k.oee) == "—" and fmt_value("nee", k.nee) == "—"
    rows = {(r.view, r.category): r for r in loss_views(setup.elements)}
    assert rows[("iso", "valuable")].time_s == 0.0  # no output: nothing valuable, all lost
    assert rows[("iso", "quality")].time_s == 0.0
