"""Student t intervals of means and of paired differences."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from analytics.whatif import mean_interval, paired_interval
from analytics.whatif.intervals import comparison_level


def test_the_interval_is_the_student_t_interval() -> None:
    x = [10.0, 12.0, 9.0, 11.0, 13.0]
    i = mean_interval(x, 0.95)
    half = stats.t.ppf(0.975, 4) * np.std(x, ddof=1) / math.sqrt(5)
    assert (i.mean, i.n) == (11.0, 5)
    assert i.half_width == pytest.approx(half)
    assert (i.low, i.high) == pytest.approx((11.0 - half, 11.0 + half))
    assert i.contains(11.0) and not i.contains(20.0)


def test_undefined_values_drop_out() -> None:
    i = mean_interval([1.0, None, 3.0, float("nan")])
    assert (i.n, i.mean) == (2, 2.0)
    one = mean_interval([4.0, None])
    assert (one.mean, one.low, one.n) == (4.0, None, 1)
    assert mean_interval([]).mean is None


def test_paired_differences_pair_by_replication() -> None:
    base = [10.0, 20.0, 30.0, 40.0]
    variant = [11.0, 21.5, 30.5, 41.0]
    d = paired_interval(variant, base)
    assert d.mean == pytest.approx(1.0)
    assert d.excludes_zero  # the spread of the levels cancels out in the pairs...
    assert stats.ttest_ind(variant, base).pvalue > 0.5  # ...which unpaired samples would hide


def test_a_pair_with_an_undefined_side_is_dropped() -> None:
    d = paired_interval([1.0, None, 3.0], [0.0, 5.0, None])
    assert d.n == 1


def test_identical_values_give_a_zero_difference() -> None:
    d = paired_interval([1.5, 2.5, 3.5], [1.5, 2.5, 3.5])
    assert (d.mean, d.low, d.high) == (0.0, 0.0, 0.0)
    assert not d.excludes_zero


def test_mismatched_replications_are_refused() -> None:
    with pytest.raises(ValueError, match="3 against 2"):
        paired_interval([1.0, 2.0, 3.0], [1.0, 2.0])


def test_bonferroni_splits_the_error_rate() -> None:
    assert comparison_level(0.95, 10, "bonferroni") == pytest.approx(0.995)
    assert comparison_level(0.95, 10, "none") == 0.95
