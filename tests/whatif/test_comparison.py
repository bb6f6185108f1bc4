"""Paired comparisons with common random numbers: a real 5 % difference is found, and none is
reported between identical variants.

Throughput of the tandem line equals its arrival rate (every station keeps up), so 5 % more
orders (mean 57.14 s instead of 60 s apart) raise the true throughput from 60 to 63 units/h.
"""

from __future__ import annotations

import pytest

from analytics.whatif import SerialExecutor, run_study
from analytics.whatif.results import NOT_SIGNIFICANT
from analytics.whatif.wording import findings, headline
from tests.whatif.conftest import tandem_study


@pytest.fixture(scope="module")
def result():
    study = tandem_study(
        replications=10,
        run_length="8h",
        warmup="1h",
        kpis=["throughput_uph", "wip_avg", "availability@s3"],
    )
    return run_study(study, SerialExecutor())


def test_a_real_5_percent_throughput_difference_is_found(result) -> None:
    c = result.comparison("more_demand", "throughput_uph")
    assert c.significant and c.verdict == "better"
    assert c.difference.contains(3.0)  # 63 - 60 units/h
    assert c.relative == pytest.approx(0.05, abs=0.02)


def test_common_random_numbers_make_the_paired_interval_narrow(result) -> None:
    """Shared seeds cancel most of the noise: the paired interval is far narrower than the
    interval of either mean."""
    diff = result.comparison("more_demand", "throughput_uph").difference
    base = result.summary("base", "throughput_uph").interval
    assert diff.half_width < 0.5 * base.half_width


def test_identical_variants_differ_in_nothing(result) -> None:
    same = [r for r in result.runs if r.variant == 2]
    base = [r for r in result.runs if r.variant == 0]
    assert [r.kpis for r in same] == [r.kpis for r in base]
    for key in ("throughput_uph", "wip_avg", "availability@s3"):
        c = result.comparison("same", key)
        assert not c.significant and c.verdict == NOT_SIGNIFICANT
        assert (c.difference.mean, c.difference.low, c.difference.high) == (0.0, 0.0, 0.0)


def test_every_variant_and_kpi_gets_a_finding_significant_or_not(result) -> None:
    lines = findings(result)
    assert len(lines) == 2 * 3  # variants x KPIs
    assert any(
        s.startswith("more_demand: Throughput rate significantly higher (better): +") for s in lines
    )
    assert (
        "same: no significant change in Throughput rate: +0.000 units/h (+0.0 %), 95 % CI "
        in (lines[3])
    )
    # WIP has no better direction: higher or lower, never better or worse
    wip = next(s for s in lines if s.startswith("more_demand: WIP"))
    assert "significantly higher:" in wip and "better" not in wip and "worse" not in wip


def test_the_headline_answers_in_one_line_per_variant(result) -> None:
    more, same = headline(result)
    assert more.startswith("more_demand (5 % more orders): better: Throughput rate +")
    assert same == (
        "same (the base, written out): no significant change in Throughput rate, "
        "WIP (time-weighted), Availability (s3)."
    )
