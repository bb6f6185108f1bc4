"""The worked example of standards.md §1.6, computed from a state log."""

from __future__ import annotations

import pytest

from analytics import compute_report
from analytics.eventlog import read_columns, write_event_log
from analytics.losses import loss_views, nakajima_factors
from tests.analytics.builders import worked_example


@pytest.fixture(scope="module", params=["records", "run.jsonl", "run.jsonl.gz", "run.parquet"])
def station(request, tmp_path_factory):
    """The single station of the worked example over its 480-minute window: from the records
    in memory and from the event log saved in each format."""
    if request.param == "records":
        return compute_report(worked_example()).scope("st1")
    path = tmp_path_factory.mktemp("log") / request.param
    write_event_log(worked_example(), path)
    return compute_report(read_columns(path)).scope("st1")


def test_elements_match_the_example(station):
    """PBT 480, AUST 30, ADET 45, ADOT 25, APT 380 minutes; AUPT 410, AUBT 455."""
    e = station.elements
    assert (e.pbt_s, e.aust_s, e.adet_s, e.adot_s, e.apt_s) == (
        480 * 60,
        30 * 60,
        45 * 60,
        25 * 60,
        380 * 60,
    )
    assert (e.aupt_s, e.aubt_s) == (410 * 60, 455 * 60)
    assert e.aubt_s + e.adot_s == e.pbt_s
    assert (e.pq, e.gq, e.sq, e.rq) == (700, 670, 20, 10)


def test_iso_kpis_match_the_example(station):
    """A 0.7917, E 0.9211, QR 0.9571, OEE 0.6979, NEE 0.7530, TE 0.8941, setup rate 0.0732."""
    k = station.kpis
    assert k.availability == pytest.approx(0.7917, abs=5e-5)
    assert k.effectiveness == pytest.approx(0.9211, abs=5e-5)
    assert k.quality_ratio == pytest.approx(0.9571, abs=5e-5)
    assert k.oee == pytest.approx(0.6979, abs=5e-5)
    assert k.oee == pytest.approx(0.5 * 670 / 480)
    assert k.oee == pytest.approx(k.availability * k.effectiveness * k.quality_ratio)
    assert k.nee == pytest.approx(0.7530, abs=5e-5)
    assert k.technical_eff == pytest.approx(0.8941, abs=5e-5)
    assert k.setup_rate == pytest.approx(0.0732, abs=5e-5)
    assert not k.effectiveness_over_100
    assert k.failures == 1 and k.minor_stops == 1
    assert k.mttr_h == pytest.approx(0.5)


def test_nakajima_view_gives_the_same_oee(station):
    """Minor stops as a speed loss: A 0.8229, P 0.8861, Q 0.9571, same OEE 0.6979."""
    n = nakajima_factors(station.elements)
    assert n.availability == pytest.approx(0.8229, abs=5e-5)
    assert n.performance == pytest.approx(0.8861, abs=5e-5)
    assert n.quality == pytest.approx(0.9571, abs=5e-5)
    assert n.availability * n.performance * n.quality == pytest.approx(station.kpis.oee)


def test_loss_views_partition_planned_busy_time(station):
    """Both loss views add up to PBT: losses plus valuable time (OEE x PBT)."""
    rows = loss_views(station.elements)
    for view in ("iso", "six_big_losses"):
        times = [r.time_s for r in rows if r.view == view and r.time_s is not None]
        assert sum(times) == pytest.approx(station.elements.pbt_s)
    six = {r.loss: r.time_s for r in rows if r.view == "six_big_losses"}
    assert six["1 equipment failure"] == 30 * 60
    assert six["3 idling and minor stops"] == 15 * 60
    assert six["4 reduced speed"] == pytest.approx((380 - 350) * 60)
