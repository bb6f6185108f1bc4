"""Aggregation: intervals per variant, verdicts by the KPI's better direction, undefined values."""

from __future__ import annotations

import pytest

from analytics.whatif.replication import ReplicationResult
from analytics.whatif.results import NOT_SIGNIFICANT, UNDEFINED, aggregate
from analytics.whatif.warmup import WarmupChoice
from analytics.whatif.wording import format_value, statement
from tests.whatif.conftest import tandem_study

KPIS = ["throughput_uph", "flow_time_avg_s", "wip_avg", "mtbf_h@s1"]


def _runs(values: dict[str, list[list[float | None]]]) -> list[ReplicationResult]:
    """Replication results from ``values[kpi][variant][replication]``."""
    out = []
    for v in range(3):
        for r in range(4):
            out.append(
                ReplicationResult(
                    index=v * 4 + r,
                    variant=v,
                    replication=r,
                    seed=7 + r,
                    warmup_s=90.0,
                    warmup_limited=False,
                    kpis={k: values[k][v][r] for k in KPIS},
                    states={"s1": (0.5, 0.5)},
                    bottleneck={"s1": 0.2 * v},
                    timeline_uph=(1.0 * v, 2.0),
                )
            )
    return out


@pytest.fixture(scope="module")
def result():
    study = tandem_study(kpis=KPIS, warmup="90s")
    base = [10.0, 20.0, 30.0, 40.0]
    return aggregate(
        study,
        _runs(
            {
                "throughput_uph": [base, [x + 1 for x in base], [x - 1 for x in base]],
                "flow_time_avg_s": [base, [x + 1 for x in base], [x - 1 for x in base]],
                "wip_avg": [base, [x + 1 for x in base], [11.0, 19.0, 31.0, 39.0]],
                "mtbf_h@s1": [[None, 5.0, None, None], [1.0, 2.0, None, 3.0], [4.0, 5.0, 6.0, 7.0]],
            }
        ),
    )


def test_verdicts_follow_the_better_direction(result) -> None:
    assert result.comparison("more_demand", "throughput_uph").verdict == "better"
    assert result.comparison("same", "throughput_uph").verdict == "worse"
    assert result.comparison("more_demand", "flow_time_avg_s").verdict == "worse"
    assert result.comparison("same", "flow_time_avg_s").verdict == "better"
    assert result.comparison("more_demand", "wip_avg").verdict == "higher"
    assert result.comparison("same", "wip_avg").verdict == NOT_SIGNIFICANT


def test_a_constant_nonzero_difference_is_significant(result) -> None:
    """Every pair differs by exactly +1: zero spread, yet a real difference."""
    c = result.comparison("more_demand", "throughput_uph")
    assert c.difference.sd == 0.0 and c.significant
    assert c.relative == pytest.approx(1 / 25)


def test_undefined_values_drop_out_pairwise(result) -> None:
    base = result.summary("base", "mtbf_h@s1").interval
    assert (base.n, base.mean, base.low) == (1, 5.0, None)
    assert result.comparison("more_demand", "mtbf_h@s1").verdict == UNDEFINED  # one pair
    assert "cannot be compared" in statement(result.comparison("more_demand", "mtbf_h@s1"), 0.95)


def test_profiles_average_the_replications(result) -> None:
    p = result.profiles[1]
    assert p.bottleneck == {"s1": pytest.approx(0.2)}
    assert p.timeline_uph == (1.0, 2.0)
    assert p.warmup_s == 90.0
    assert (result.warmup.seconds, result.warmup.method) == (90.0, "fixed")


def test_a_kpi_undefined_in_some_replications_is_a_warning(result) -> None:
    undefined = [w for w in result.warnings if w.kind == "kpi_undefined"]
    assert [(w.variant, w.kpi) for w in undefined] == [(None, "mtbf_h@s1")]
    assert "(base 3 of 4, more_demand 1 of 4)" in undefined[0].text


def test_warm_up_warnings_say_what_is_wrong() -> None:
    study = tandem_study(kpis=["throughput_uph"], variants=[], run_length="4h", warmup="3h")
    runs = [r for r in _runs(dict.fromkeys(KPIS, [[1.0, 2.0, 3.0, 4.0]] * 3)) if r.variant == 0]
    kinds = {w.kind: w.text for w in aggregate(study, runs).warnings}
    assert set(kinds) == {"run_short_for_warmup"}
    assert "takes 75 % of each 4 h run" in kinds["run_short_for_warmup"]
    unsettled = aggregate(
        study, runs, WarmupChoice(600.0, "mser5", limited=True, per_variant=(600.0,))
    )
    assert {w.kind for w in unsettled.warnings} == {"warmup_not_settled"}


def test_availability_falling_as_a_station_idles_is_lower_not_worse() -> None:
    """Availability (APT / PBT) falls when a faster station waits more: said neutrally."""
    study = tandem_study(
        kpis=["availability@s3", "throughput_uph"],
        variants=[
            {"name": "faster_s3", "overrides": {"lines.tandem.stations.s3.cycle_time.mean": 40}}
        ],
    )
    values = {
        "availability@s3": [[0.75, 0.76, 0.74, 0.75], [0.66, 0.67, 0.65, 0.67]],
        "throughput_uph": [[60.0, 61.0, 59.0, 60.0], [60.0, 61.0, 59.0, 60.1]],
    }
    runs = [
        ReplicationResult(
            v * 4 + r, v, r, 7 + r, 0.0, False, {k: values[k][v][r] for k in values}, {}, {}, (0.0,)
        )
        for v in range(2)
        for r in range(4)
    ]
    c = aggregate(study, runs).comparison("faster_s3", "availability@s3")
    assert c.significant and c.verdict == "lower"


def test_values_are_written_in_their_units(result) -> None:
    sel = result.study.kpis[0]
    assert format_value(sel, 59.7234) == "59.72 units/h"
    assert format_value(sel, 2.9, signed=True) == "+2.900 units/h"
    avail = tandem_study(kpis=["availability@s3"]).kpis[0]
    assert format_value(avail, 0.7484) == "74.84 %"
    assert format_value(avail, -0.0807, signed=True) == "-8.07 pp"
    assert format_value(avail, None) == "—"
