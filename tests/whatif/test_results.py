"""Aggregation: intervals per variant, verdicts by the KPI's better direction, undefined values."""

from __future__ import annotations

import pytest

from analytics.whatif.replication import ReplicationResult
from analytics.whatif.results import NOT_SIGNIFICANT, UNDEFINED, aggregate
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
                    warmup_s=60.0 * r,
                    warmup_limited=r == 3,
                    kpis={k: values[k][v][r] for k in KPIS},
                    states={"s1": (0.5, 0.5)},
                    bottleneck={"s1": 0.2 * v},
                    timeline_uph=(1.0 * v, 2.0),
                )
            )
    return out


@pytest.fixture(scope="module")
def result():
    study = tandem_study(kpis=KPIS)
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
    assert "undefined" in statement(result.comparison("more_demand", "mtbf_h@s1"), 0.95)


def test_profiles_average_the_replications(result) -> None:
    p = result.profiles[1]
    assert p.bottleneck == {"s1": pytest.approx(0.2)}
    assert p.timeline_uph == (1.0, 2.0)
    assert (p.warmup_s, p.warmup_max_s, p.warmup_limited) == (90.0, 180.0, 1)


def test_values_are_written_in_their_units(result) -> None:
    sel = result.study.kpis[0]
    assert format_value(sel, 59.7234) == "59.72 units/h"
    assert format_value(sel, 2.9, signed=True) == "+2.900 units/h"
    avail = tandem_study(kpis=["availability@s3"]).kpis[0]
    assert format_value(avail, 0.7484) == "74.84 %"
    assert format_value(avail, -0.0807, signed=True) == "-8.07 pp"
    assert format_value(avail, None) == "—"
