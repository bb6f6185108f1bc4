"""Interval coverage on a case with a known answer: an M/M/1 queue.

One exponential station (mean 30 s) fed by Poisson orders of one unit (mean 60 s apart), made
from ``tandem_mm1`` by overrides. In steady state the departure rate equals the arrival rate,
60 units/h, and the station is busy rho = 30/60 = 0.5 of the time, so plant throughput and the
station's availability (APT / PBT: busy time over planned busy time) have exact true means.
With rho = 0.5 the queue forgets its empty start within minutes (relaxation time about 6 min),
so 20 min of warm-up leaves no bias worth the name.

``BLOCKS`` independent studies of ``PER_STUDY`` replications each (disjoint seeds) give one
95 % interval each. The number of intervals that cover the true mean is Binomial(BLOCKS, 0.95)
if the intervals are right; the test accepts the central 99.9 % of that distribution (for 200
intervals: 179 to 198 covering, 89.5 % to 99 %), so it fails by chance once in a thousand runs
of a correct engine, and it fails for intervals that are too narrow (say 85 % coverage) or too
wide (always 100 %). With these seeds, 192 of 200 throughput intervals and 189 of 200
availability intervals cover the truth.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from analytics.whatif import LocalExecutor, mean_interval, run_study
from tests.whatif.conftest import MM1_OVERRIDES, tandem_study

BLOCKS = 200
PER_STUDY = 4
LEVEL = 0.95
TRUTH = {"throughput_uph": 60.0, "availability@s1": 0.5}


def test_95_percent_intervals_cover_the_true_mean_about_95_percent_of_the_time() -> None:
    study = tandem_study(
        replications=BLOCKS * PER_STUDY,
        seed=10_000,
        run_length="3h",
        warmup="20m",
        kpis=list(TRUTH),
        variants=[],
        base_overrides=MM1_OVERRIDES,
    )
    result = run_study(study, LocalExecutor(workers=2))
    low, high = (int(x) for x in stats.binom.interval(0.999, BLOCKS, LEVEL))
    for key, truth in TRUTH.items():
        values = np.array(result.summary("base", key).values, float).reshape(BLOCKS, PER_STUDY)
        covered = sum(mean_interval(list(block), LEVEL).contains(truth) for block in values)
        assert low <= covered <= high, (
            f"{key}: {covered}/{BLOCKS} intervals cover {truth}, expected {low}..{high}"
        )
        # The replications as a whole agree with the truth too (a check on bias).
        assert mean_interval(values.ravel().tolist(), 0.999).contains(truth), key
