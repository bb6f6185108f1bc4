"""Which flow KPI is which on the M/M/1 tandem line (a Jackson network with known answers).

Arrivals every 60 s on average, stations with mean service 30, 40 and 45 s: each station is an
M/M/1 queue, with time in system 1/(mu - lambda) = 60, 120 and 180 s. The time in system of the
whole network, from joining the queue in front of s1 to leaving s3, is 360 s.

- ``line_lead_time_avg_s`` (order released to the line -> part exit) is that time in system:
  360 s; orders are of one unit, so it equals ``order_lead_time_avg_s`` run by run.
- ``flow_time_avg_s`` starts when s1 takes the part (``PartReleased``): it leaves out the wait
  in front of s1, Wq1 = rho1 / (mu1 - lambda) = 30 s, so 330 s.
- ``wip_avg`` counts the parts on the line from that moment: L - Lq1 = 6 - 0.5 = 5.5 units.
"""

from __future__ import annotations

import numpy as np
import pytest

from analytics import compute_report
from analytics.eventlog import read_columns, write_event_log
from analytics.whatif import SerialExecutor, mean_interval, run_study
from analytics.whatif.replication import simulate
from plant_sim.records import OrderEvent, PartLeft, PartReleased
from tests.analytics.builders import LogBuilder, S
from tests.whatif.conftest import tandem_study

LEVEL = 0.99
KPIS = ["line_lead_time_avg_s", "flow_time_avg_s", "order_lead_time_avg_s", "wip_avg"]


@pytest.fixture(scope="module")
def result():
    study = tandem_study(
        replications=8, seed=300, run_length="3d", warmup="6h", kpis=KPIS, variants=[]
    )
    return run_study(study, SerialExecutor())


def _values(result, key: str) -> np.ndarray:
    return np.array(result.summary("base", key).values, float)


def test_line_lead_time_is_the_jackson_time_in_system(result) -> None:
    lead = mean_interval(list(_values(result, "line_lead_time_avg_s")), LEVEL)
    assert lead.contains(360.0), lead
    assert lead.half_width < 40.0  # tight enough to tell 360 s from 330 s in the mean


def test_line_lead_time_equals_order_lead_time_for_orders_of_one_unit(result) -> None:
    lead, order = _values(result, "line_lead_time_avg_s"), _values(result, "order_lead_time_avg_s")
    assert lead == pytest.approx(order, rel=1e-9)


def test_flow_time_leaves_out_the_wait_in_front_of_the_first_station(result) -> None:
    flow = _values(result, "flow_time_avg_s")
    assert mean_interval(list(flow), LEVEL).contains(330.0)
    wait = _values(result, "line_lead_time_avg_s") - flow  # replication by replication
    waited = mean_interval(list(wait), LEVEL)
    assert waited.contains(30.0) and waited.low > 15.0, waited


def test_wip_counts_the_parts_on_the_line(result) -> None:
    assert mean_interval(list(_values(result, "wip_avg")), LEVEL).contains(5.5)


def test_line_lead_time_counts_from_the_order_release_on_a_known_log() -> None:
    """Order o1 released at 100 s; its part waits until s1 takes it at 700 s and leaves at
    1900 s: flow time 1200 s, line lead time 1800 s. A part without an order (saturated line)
    counts its flow time; a scrapped part counts in neither."""
    b = LogBuilder()
    b.states("st1", 0.0, [(3600.0, S.PROCESSING)])
    b.records += [
        OrderEvent(100.0, "o1", "A", 1, 3600.0, "arrived"),
        OrderEvent(100.0, "o1", "A", 1, 3600.0, "released", "line1"),
        PartReleased(700.0, "line1", "p1", "A", "o1"),
        PartLeft(1900.0, "line1", "p1", "A", "o1", "finished", 1200.0),
        PartReleased(2000.0, "line1", "p2", "A", None),
        PartLeft(2600.0, "line1", "p2", "A", None, "finished", 600.0),
        PartReleased(2700.0, "line1", "p3", "A", "o9"),
        PartLeft(2900.0, "line1", "p3", "A", "o9", "scrapped", 200.0),
    ]
    flow = compute_report(b.build(3600.0)).flow
    assert flow["line1"].flow_time_avg_s == pytest.approx((1200.0 + 600.0) / 2)
    assert flow["line1"].line_lead_time_avg_s == pytest.approx((1800.0 + 600.0) / 2)
    assert flow["plant"].line_lead_time_avg_s == flow["line1"].line_lead_time_avg_s


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_the_line_lead_time_reads_the_same_from_an_event_log_file(suffix, tmp_path) -> None:
    """The record path and the Parquet column path both carry each exit's order id."""
    scenario = tandem_study().base.scenario
    records = simulate(scenario, 11, 6 * 3600.0)
    path = tmp_path / f"log{suffix}"
    write_event_log(records, path)
    direct = compute_report(records, shifts=False).flow["plant"]
    read = compute_report(read_columns(path), shifts=False).flow["plant"]
    assert read.line_lead_time_avg_s == pytest.approx(direct.line_lead_time_avg_s, rel=1e-12)
    assert direct.line_lead_time_avg_s > direct.flow_time_avg_s  # the queue in front of s1
