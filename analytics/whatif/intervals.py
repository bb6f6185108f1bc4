"""Confidence intervals of means over replications, and of paired differences (Student t).

Replications are independent, so the mean of a KPI over ``n`` replications has the interval
``x̄ ± t(1 − α/2, n − 1) · s / √n``. A variant and the base share seeds (common random numbers),
so their difference is taken replication by replication and the same interval is put on the
mean difference (a paired t interval): the shared randomness cancels and small real
differences show. Undefined values (``None``) drop out, pairwise. Pure: numpy and scipy only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True, slots=True)
class Interval:
    """A mean with its confidence interval; ``None`` fields when fewer than 2 values."""

    mean: float | None
    low: float | None
    high: float | None
    half_width: float | None
    sd: float | None
    n: int
    level: float

    def contains(self, value: float) -> bool:
        """Tell whether ``value`` lies in the interval (closed)."""
        return self.low is not None and self.high is not None and self.low <= value <= self.high

    @property
    def excludes_zero(self) -> bool:
        """Tell whether the interval lies wholly above or below 0 (a significant difference)."""
        if self.low is None or self.high is None:
            return False
        return self.low > 0.0 or self.high < 0.0


def _clean(values: Sequence[float | None]) -> np.ndarray:
    return np.array([v for v in values if v is not None and math.isfinite(v)], float)


def mean_interval(values: Sequence[float | None], level: float = 0.95) -> Interval:
    """Return the t interval of the mean of ``values`` at confidence ``level``."""
    x = _clean(values)
    n = len(x)
    if n == 0:
        return Interval(None, None, None, None, None, 0, level)
    mean = float(x.mean())
    if n == 1:
        return Interval(mean, None, None, None, None, 1, level)
    sd = float(x.std(ddof=1))
    half = float(stats.t.ppf(0.5 + level / 2.0, n - 1)) * sd / math.sqrt(n)
    return Interval(mean, mean - half, mean + half, half, sd, n, level)


def paired_interval(
    variant: Sequence[float | None], base: Sequence[float | None], level: float = 0.95
) -> Interval:
    """Return the t interval of the mean of ``variant[r] − base[r]`` over defined pairs."""
    if len(variant) != len(base):
        raise ValueError(f"paired values: {len(variant)} against {len(base)} replications")
    diffs = [
        v - b
        for v, b in zip(variant, base, strict=True)
        if v is not None and b is not None and math.isfinite(v) and math.isfinite(b)
    ]
    return mean_interval(diffs, level)


def comparison_level(level: float, comparisons: int, correction: str) -> float:
    """Return the per-comparison confidence level (Bonferroni: ``1 − (1 − level) / m``)."""
    if correction == "bonferroni" and comparisons > 1:
        return 1.0 - (1.0 - level) / comparisons
    return level
