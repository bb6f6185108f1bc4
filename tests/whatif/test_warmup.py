"""MSER-5 on series with a known initial transient, and the output series it reads."""

from __future__ import annotations

import numpy as np
import pytest

from analytics.columns import to_columns
from analytics.report import compute_report
from analytics.whatif import mser
from analytics.whatif.replication import simulate, warmup_series
from analytics.whatif.spec import MserSpec
from analytics.whatif.warmup import pooled_warmup, series_edges, throughput_series, wip_series
from tests.whatif.conftest import tandem_study


def _transient(tau: float, n: int = 2000, seed: int = 1) -> np.ndarray:
    """Steady level 10 reached exponentially with time constant ``tau``, plus unit noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return 10.0 * (1.0 - np.exp(-t / tau)) + rng.normal(0.0, 1.0, n)


@pytest.mark.parametrize("seed", range(5))
def test_mser5_cuts_a_known_initial_transient(seed: int) -> None:
    """The bias left after the cut is small: 10 e^(-d/80) well under the noise (sd 1)."""
    cut = mser(_transient(80.0, seed=seed))
    assert not cut.limited
    assert 120 <= cut.truncate <= 600  # 1.5 to 7.5 time constants
    assert cut.truncate % 5 == 0  # a whole number of batches of 5


def test_mser5_keeps_a_stationary_series() -> None:
    rng = np.random.default_rng(3)
    assert mser(rng.normal(5.0, 1.0, 2000)).truncate <= 100


def test_mser5_says_when_the_run_is_too_short_for_the_transient() -> None:
    cut = mser(_transient(2000.0))
    assert cut.limited
    assert cut.truncate <= 1000  # never beyond the first half


def test_a_series_too_short_to_batch_is_not_cut() -> None:
    assert mser(np.arange(10.0)).truncate == 0


@pytest.fixture(scope="module")
def tandem_columns():
    study = tandem_study()
    return to_columns(simulate(study.base.scenario, 3, 86400.0))


def test_the_wip_series_averages_the_same_wip_as_the_kpi_engine(tandem_columns) -> None:
    edges = np.array([0.0, 3600.0, 20000.0, 86400.0])
    series = wip_series(tandem_columns, edges)
    for k in range(3):
        window = (edges[k], edges[k + 1])
        expected = compute_report(tandem_columns, window, shifts=False).flow["plant"].wip_avg
        assert series[k] == pytest.approx(expected, rel=1e-9)


def test_the_throughput_series_counts_finished_parts(tandem_columns) -> None:
    edges = np.linspace(0.0, 86400.0, 25)
    finished = compute_report(tandem_columns, None, shifts=False).flow["plant"].finished
    assert throughput_series(tandem_columns, edges).sum() == finished


#: A line that fills a 200-part buffer at about one part per 300 s (arrivals and the first station
#: every 50 s, the second station 60 s on average), then stays full: WIP climbs for ~17 h.
FILLING_LINE = {
    "lines.tandem.stations": [
        {"id": "s1", "cycle_time": {"kind": "constant", "value": 50}},
        {"id": "s2", "cycle_time": {"kind": "exponential", "mean": 60}},
    ],
    "lines.tandem.buffers": [{"id": "q2", "capacity": 200}],
    "demand.interarrival": {"kind": "exponential", "mean": 50},
}


def _pooled(study, seeds: list[int], run_length_s: float):
    edges = series_edges(run_length_s, None)
    series = [
        warmup_series(
            to_columns(simulate(study.base.scenario, s, run_length_s)), MserSpec(), run_length_s
        )
        for s in seeds
    ]
    return pooled_warmup([series], edges)


def test_mser_warmup_of_a_line_that_starts_empty_is_after_the_fill_up() -> None:
    """MSER-5 on the WIP averaged over replications cuts after the ~60,000 s fill-up."""
    study = tandem_study(base_overrides=FILLING_LINE, kpis=["wip_avg"], variants=[])
    cut = _pooled(study, [3, 5], 2 * 86400.0)
    assert not cut.limited
    assert 40_000.0 <= cut.seconds <= 86_400.0  # after most of the fill-up, in the first half


def test_the_pooled_cut_is_the_latest_variant_cut_and_says_when_it_is_not_settled() -> None:
    """One cut for all variants (the latest); a transient longer than half the run is flagged."""
    edges = np.arange(0.0, 2001.0)
    fast = [_transient(20.0, seed=s) for s in range(4)]
    slow = [_transient(150.0, seed=s) for s in range(4)]
    cut = pooled_warmup([fast, slow], edges)
    assert cut.per_variant[0] < cut.per_variant[1] == cut.seconds
    assert not cut.limited and cut.method == "mser5"
    too_slow = [_transient(3000.0, seed=s) for s in range(4)]
    assert pooled_warmup([fast, too_slow], edges).limited
