"""The last windows of an ended run wait for a gateway that may still hold records of it, read
from the gateways' own ``gateway_stats`` points (real InfluxDB).

A partition of a partitioned gateway that retries InfluxDB errors, or holds its records through
an outage, stores neither its last records nor a newer ``gateway_stats`` point (both go through
its store-and-forward buffer, in order) while ``run_end`` and the other partitions' records are
stored. Two cycles in a row then read the same records; the windows must not be final yet.
"""

from __future__ import annotations

import logging
import re
import time
from collections import Counter

import pytest

from analytics.service import AnalyticsService, InfluxConfig, InfluxQL, LineWriter, RunReader
from analytics.service.backfill import LineEncoder
from analytics.service.windows import HOUR_MS
from analytics.service.writer import make_sink
from plant_sim.records import Record, RunStart
from plant_sim.telemetry_schema import metrics_line
from tests.gateway import helpers as h
from tests.servers.influxdb import InfluxServer
from tests.service.helpers import compare, stored_kpis

pytestmark = pytest.mark.integration

SETTLE_S = 600.0


class Stored:
    """A run stored the way a partitioned gateway can leave it: ``run_end`` and every record
    but one station's last half hour (the records of the partition that is behind)."""

    def __init__(self, influxd: InfluxServer, db: str, source: str) -> None:
        self.records = h.run_log(9 * 3600, seed=4)  # production from 06:00
        start, end = self.records[0], self.records[-1]
        assert isinstance(start, RunStart) and end.kind == "run_end"
        self.start = start
        last = [r for r in self.records if r.kind in ("state", "part") and r.t > end.t - 1800]
        station = Counter(r.station for r in last).most_common(1)[0][0]  # type: ignore[attr-defined]
        self.late: list[Record] = [r for r in last if r.station == station]  # type: ignore[attr-defined]
        assert len(self.late) > 5
        late_ids = {id(r) for r in self.late}
        config = InfluxConfig(influxd.url, db)
        self.encoder = LineEncoder(start.run_id, start.start_epoch_ms, source)
        self.store = LineWriter(make_sink(config))
        self.store.write(self.encoder.lines(r for r in self.records if id(r) not in late_ids))
        self.service = AnalyticsService(
            RunReader(InfluxQL(config)), LineWriter(make_sink(config)), settle_s=SETTLE_S
        )

    def stats(self, gateway: str, buffered: int, age_s: float = 0.0) -> None:
        """Store a gateway's global ``gateway_stats`` point made ``age_s`` ago."""
        ts_ms = int(time.time() * 1000) - round(age_s * 1000) + 1
        self.store.write([metrics_line(gateway, "gateway", {"buffered": buffered}, ts_ms)])

    def last_hour(self) -> int:
        end_ms = self.start.start_epoch_ms + round(self.records[-1].t * 1000)
        return (end_ms - 1) // HOUR_MS * HOUR_MS  # the hour the run ends in


def _kinds(results: list) -> set[tuple[str, int]]:
    return {(w.kind, w.start_ms) for r in results for w in r.windows}


def test_the_last_windows_wait_for_a_partition_that_holds_records(
    influxd: InfluxServer, influx_db: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Partition p1's newest stored point was made before the run ended (it holds the late
    records, retrying): the last windows are computed again cycle after cycle, not made final
    (the two-cycle rule alone made them final on the second cycle); once p1 stores its records
    and a newer point, they get KPIs equal to the event log's and become final."""
    run = Stored(influxd, influx_db, "mqtt")
    run.stats("twin-p0", 0, age_s=5)
    run.stats("twin-p1", len(run.late), age_s=20)  # stuck since: nothing newer stored
    caplog.set_level(logging.INFO, logger="analytics.service")
    assert run.service.cycle()  # every window, without the late records; run_end seen
    run.stats("twin-p0", 0)  # p0 goes on storing its points, p1 cannot
    last = ("hour", run.last_hour())
    for _ in range(4):
        assert last in _kinds(run.service.cycle())  # not final: p1 is behind
    waits = [r.getMessage() for r in caplog.records if "wait for gateway" in r.getMessage()]
    assert len(waits) == 1  # once, for p1 only
    assert re.fullmatch(
        rf"run {run.start.run_id}: last windows wait for gateway twin-p1 "
        rf"\({len(run.late)} records buffered (2\d|[3-9]\d|\d{{3,}})(\.\d)? s ago\)",
        waits[0],
    ), waits
    run.store.write(run.encoder.lines(run.late))  # p1's writes succeed: its records...
    run.stats("twin-p1", 0)  # ...then its newer point, in the order of its buffer
    cycles = [run.service.cycle() for _ in range(4)]
    assert last in _kinds(cycles[0])
    assert cycles[-1] == []  # final
    compare(
        stored_kpis(influxd, influx_db),
        run.records,
        levels=("station", "line", "plant"),
        tol=1e-9,
    )


@pytest.mark.parametrize(
    ("source", "gateways"),
    [
        ("mqtt", {}),  # no gateway_stats at all: as before
        ("mqtt", {"twin-p1": 2 * SETTLE_S}),  # a gateway silent for longer than settle: gone
        ("backfill", {"twin-p1": 20}),  # written without a gateway: nothing to wait for
    ],
    ids=["no-gateway-stats", "gateway-gone", "backfill"],
)
def test_no_gateway_to_wait_for_leaves_the_two_cycle_rule(
    influxd: InfluxServer,
    influx_db: str,
    source: str,
    gateways: dict[str, float],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """With no gateway to wait for, the last windows are final on the second cycle that reads
    the same records."""
    run = Stored(influxd, influx_db, source)
    for gateway, age_s in gateways.items():
        run.stats(gateway, len(run.late), age_s=age_s)
    caplog.set_level(logging.INFO, logger="analytics.service")
    assert run.service.cycle()
    assert ("hour", run.last_hour()) in _kinds(run.service.cycle())  # same count: final
    assert run.service.cycle() == []
    assert not [r for r in caplog.records if "wait for gateway" in r.getMessage()]
