"""The model against queueing theory: a tandem of M/M/1 stations, and a finite buffer."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from plant_sim.records import Record
from plant_sim.simulation import run_batch
from tests.plant_sim.helpers import make, scenario_data, state_intervals, time_average

DAY = 86400.0
WARMUP = 0.5 * DAY


def ci(values: list[float], level: float = 0.99) -> tuple[float, float]:
    """Student-t confidence interval of the mean of independent replications."""
    a = np.asarray(values)
    half = stats.t.ppf(0.5 + level / 2, len(a) - 1) * a.std(ddof=1) / np.sqrt(len(a))
    return a.mean() - half, a.mean() + half


def busy_fraction(records: list[Record], station: str, t_from: float) -> float:
    end = records[-1].t
    busy = sum(
        max(0.0, b - max(a, t_from))
        for a, b, s, _ in state_intervals(records)[station]
        if s.value == "processing"
    )
    return busy / (end - t_from)


@pytest.fixture(scope="module")
def tandem_replications() -> list[list[Record]]:
    scenario = make(scenario_data("tandem_mm1"))
    return [run_batch(scenario, until_s=4 * DAY, seed=seed).records for seed in range(10)]


def test_tandem_throughput_equals_the_arrival_rate(tandem_replications) -> None:
    rates = []
    for records in tandem_replications:
        done = [r.t for r in records if r.kind == "exit" and r.t > WARMUP]
        rates.append(len(done) / (records[-1].t - WARMUP))
    low, high = ci(rates)
    assert low <= 1 / 60 <= high


@pytest.mark.parametrize(
    ("station", "queue", "service_s"), [("s1", "release", 30), ("s2", "q2", 40), ("s3", "q3", 45)]
)
def test_tandem_stations_hold_as_many_parts_as_m_m_1_predicts(
    tandem_replications, station: str, queue: str, service_s: float
) -> None:
    """Jackson's theorem: each station of the tandem is an M/M/1 queue, L = rho / (1 - rho)."""
    rho = service_s / 60.0
    numbers = [
        time_average(records, "buffer", "buffer", "level", queue, WARMUP)
        + busy_fraction(records, station, WARMUP)
        for records in tandem_replications
    ]
    low, high = ci(numbers)
    assert low <= rho / (1 - rho) <= high


def test_tandem_obeys_littles_law(tandem_replications) -> None:
    """L = lambda W over the whole system (release queue and line), per replication."""
    for records in tandem_replications:
        arrived = {r.order_id: r.t for r in records if r.kind == "order" and r.event == "arrived"}
        shipped = [
            (r.t, r.t - arrived[r.order_id])
            for r in records
            if r.kind == "order" and r.event == "shipped"
        ]
        end = records[-1].t
        in_system = time_average(records, "buffer", "buffer", "level", "release", WARMUP)
        in_system += time_average(records, "buffer", "buffer", "level", "q2", WARMUP)
        in_system += time_average(records, "buffer", "buffer", "level", "q3", WARMUP)
        in_system += sum(busy_fraction(records, s, WARMUP) for s in ("s1", "s2", "s3"))
        waits = [w for t, w in shipped if t > WARMUP]
        rate = len(waits) / (end - WARMUP)
        assert in_system == pytest.approx(rate * float(np.mean(waits)), rel=0.05)


def two_station_throughput(mu1: float, mu2: float, buffer: int) -> float:
    """Throughput of a saturated two-station line with a finite buffer, blocking after service.

    Birth-death chain on n = parts in the buffer and the second station (0..B+1), plus n = B+2
    when the first station holds a finished part it cannot put down. Solved independently of the
    simulator, with numpy.
    """
    states = buffer + 3
    q = np.zeros((states, states))
    for n in range(states - 1):
        q[n, n + 1] = mu1
    for n in range(1, states):
        q[n, n - 1] = mu2
    np.fill_diagonal(q, -q.sum(axis=1))
    a = np.vstack([q.T, np.ones(states)])
    b = np.zeros(states + 1)
    b[-1] = 1.0
    pi = np.linalg.lstsq(a, b, rcond=None)[0]
    return mu2 * (1.0 - pi[0])


def test_finite_buffer_lowers_throughput_as_the_markov_chain_predicts() -> None:
    mean1, mean2, capacity = 50.0, 45.0, 2
    data = {
        "name": "two_stations",
        "seed": 5,
        "products": [{"id": "unit"}],
        "lines": [
            {
                "id": "pair",
                "stations": [
                    {"id": "m1", "cycle_time": {"kind": "exponential", "mean": mean1}},
                    {"id": "m2", "cycle_time": {"kind": "exponential", "mean": mean2}},
                ],
                "buffers": [{"id": "b12", "capacity": capacity}],
            }
        ],
        "telemetry": {"sample_period": 86400},
    }
    predicted = two_station_throughput(1 / mean1, 1 / mean2, capacity)
    unlimited = min(1 / mean1, 1 / mean2)
    assert predicted < 0.9 * unlimited  # the buffer really costs throughput here
    rates = []
    for seed in range(8):
        records = run_batch(make(data), until_s=3 * DAY, seed=seed).records
        done = [r.t for r in records if r.kind == "exit" and r.t > 3600.0]
        rates.append(len(done) / (records[-1].t - 3600.0))
    low, high = ci(rates)
    assert low <= predicted <= high
    assert high < unlimited
