"""The one backoff policy: doubling from initial_s, capped at max_s, jitter within [1 - j, 1]."""

from __future__ import annotations

import pytest

from twin_io.retry import Backoff


def test_delays_double_up_to_the_cap_with_jitter_below_the_nominal_delay() -> None:
    backoff = Backoff(initial_s=0.5, max_s=4.0, jitter=0.5)
    nominal = [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    for expected in nominal:
        delay = backoff.next_delay()
        assert expected * 0.5 <= delay <= expected
    assert backoff.failures == len(nominal)
    backoff.reset()
    assert backoff.failures == 0 and backoff.next_delay() <= 0.5


def test_jitter_spreads_clients_that_failed_together() -> None:
    delays = {Backoff(initial_s=1.0, max_s=1.0).next_delay() for _ in range(20)}
    assert len(delays) > 1 and all(0.5 <= d <= 1.0 for d in delays)
    assert Backoff(initial_s=1.0, max_s=1.0, jitter=0.0).next_delay() == 1.0


def test_many_failures_never_exceed_the_cap() -> None:
    backoff = Backoff(initial_s=0.1, max_s=30.0)
    assert max(backoff.next_delay() for _ in range(2000)) <= 30.0


@pytest.mark.parametrize(("initial", "cap", "jitter"), [(0, 1, 0.5), (2, 1, 0.5), (1, 2, 1.0)])
def test_nonsense_policies_are_refused(initial: float, cap: float, jitter: float) -> None:
    with pytest.raises(ValueError, match="backoff"):
        Backoff(initial_s=initial, max_s=cap, jitter=jitter)
