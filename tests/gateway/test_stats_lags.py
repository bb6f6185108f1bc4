"""Lag accounting: recent-window percentiles, whole-run histogram, metrics lines left out."""

from __future__ import annotations

import time

import numpy as np

from gateway.stats import RECENT_LAGS, Stats
from gateway.writer import _lags_ms


def test_recent_lags_keep_at_least_the_window_and_percentiles_are_of_the_latest() -> None:
    stats = Stats()
    stats.add_lags(np.full(RECENT_LAGS, 1000.0))  # an old burst, pushed out below
    for _ in range(6):
        stats.add_lags(np.arange(10_000, dtype=float))
    assert stats._recent_n >= RECENT_LAGS
    assert stats._recent_n == sum(a.size for a in stats.recent_lags)
    got = stats.lag_percentiles()
    assert got == {"lag_ms_p50": 5000.0, "lag_ms_p99": 9900.0, "lag_ms_max": 9999.0}
    assert stats.lag_percentiles() == {}  # forgotten after the report
    assert stats.lag_total.n == RECENT_LAGS + 60_000
    assert stats.lag_total.percentile(100) == 9999.0


def test_negative_lags_count_as_zero() -> None:
    stats = Stats()
    stats.add_lags([-5.0, 2.7])
    assert stats.lag_total.counts == {0: 1, 2: 1}


def test_lags_of_a_batch_leave_out_the_gateway_metrics_lines() -> None:
    now_ms = int(time.time() * 1000)
    body = b"\n".join(
        [
            f'm,a=b x=1.0,source="mqtt" {(now_ms - 2000) * 1_000_000 + 3}'.encode(),
            f"gateway_stats,gateway=g n=1i {(now_ms - 90_000) * 1_000_000}".encode(),
            f'm,a=c x="1 2" {(now_ms - 500) * 1_000_000}'.encode(),
        ]
    )
    lags = _lags_ms(body, "mgm")
    assert lags.shape == (2,)
    assert 2000 <= lags[0] < 2000 + 5_000
    assert 500 <= lags[1] < 500 + 5_000
