"""A new run does not take the analytics service away from an ended run's last windows (real
InfluxDB).

The service follows the run with the newest data. When a run ends and the next one begins
within one interval (a demo restarted, a what-if run after another), the cycle that sees the
new run is often the first to see the old run's ``run_end`` and last records: the old run's
last windows must still get them, and become final, before the service lets the old run go.
"""

from __future__ import annotations

import logging
import time

import pytest

from analytics.service import AnalyticsService, InfluxConfig, InfluxQL, LineWriter, RunReader
from analytics.service.backfill import LineEncoder
from analytics.service.writer import make_sink
from plant_sim.records import Record, RunStart
from tests.gateway import helpers as h
from tests.servers.influxdb import InfluxServer
from tests.service.helpers import compare, stored_kpis

pytestmark = pytest.mark.integration


class Store:
    """Writes runs' records into InfluxDB as the gateway stores them."""

    def __init__(self, influxd: InfluxServer, db: str) -> None:
        self.config = InfluxConfig(influxd.url, db)
        self.lines = LineWriter(make_sink(self.config))

    def write(self, run: list[Record], records: list[Record] | None = None) -> None:
        """Store ``records`` of ``run`` (a run's whole log, its ``run_start`` first): all of
        them unless given."""
        start = run[0]
        assert isinstance(start, RunStart)
        lines = LineEncoder(start.run_id, start.start_epoch_ms).lines(
            run if records is None else records
        )
        self.lines.write(lines)

    def service(self, settle_s: float) -> AnalyticsService:
        return AnalyticsService(
            RunReader(InfluxQL(self.config)), LineWriter(make_sink(self.config)), settle_s=settle_s
        )


def _split_end(records: list[Record]) -> tuple[list[Record], list[Record]]:
    """Return the records but the last half hour and ``run_end``, and those."""
    end = records[-1]
    assert end.kind == "run_end"
    cut = next(i for i, r in enumerate(records) if r.t > end.t - 1800)
    return records[:cut], records[cut:]


def _runs(results: list) -> set[str]:
    return {r.run_id for r in results}


def test_an_ended_runs_last_windows_get_their_records_after_a_new_run_began(
    influxd: InfluxServer, influx_db: str
) -> None:
    old = h.run_log(9 * 3600, seed=4)
    new = h.run_log(10 * 3600, seed=5)  # its data newer: the default run once stored
    assert old[0].run_id != new[0].run_id  # type: ignore[attr-defined]
    before_end, last = _split_end(old)
    store = Store(influxd, influx_db)
    store.write(old, before_end)
    service = store.service(settle_s=600.0)
    assert _runs(service.cycle()) == {old[0].run_id}  # type: ignore[attr-defined]
    store.write(old, last)  # the old run's last records and its run_end...
    store.write(new)  # ...and the new run, seen on the same cycle
    cycles = [service.cycle() for _ in range(4)]
    assert old[0].run_id in _runs(cycles[0])  # type: ignore[attr-defined]
    assert _runs(cycles[-1]) <= {new[0].run_id}  # type: ignore[attr-defined]  # old: final
    stored = stored_kpis(influxd, influx_db)
    mine = {k: v for k, v in stored.items() if k[0] == old[0].run_id}  # type: ignore[attr-defined]
    assert mine
    compare(mine, old, levels=("station", "line", "plant"), tol=1e-9)


def test_a_run_that_never_ended_is_let_go_after_settle(
    influxd: InfluxServer, influx_db: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A run that stopped without its ``run_end`` is still followed for ``settle_s`` after a
    new run took over (its ``run_end`` may yet come), then let go: not read for good."""
    settle_s = 10.0  # small runs: the first cycle and the new run's write take well under 1 s
    old = h.run_log(3 * 3600, seed=4, scenario="tandem_mm1")
    new = h.run_log(4 * 3600, seed=5, scenario="tandem_mm1")
    store = Store(influxd, influx_db)
    store.write(old, _split_end(old)[0])  # no run_end, ever
    service = store.service(settle_s=settle_s)
    caplog.set_level(logging.INFO, logger="analytics.service")
    let_go = time.monotonic() + settle_s  # settle_s after the old run was last the default
    assert _runs(service.cycle()) == {old[0].run_id}  # type: ignore[attr-defined]
    store.write(new)
    assert old[0].run_id in _runs(service.cycle())  # type: ignore[attr-defined]
    deadline = time.monotonic() + 120
    while old[0].run_id in _runs(service.cycle()):  # type: ignore[attr-defined]
        assert time.monotonic() < deadline, "the old run is still followed after 120 s"
    assert time.monotonic() >= let_go  # not before settle_s
    assert any("no longer followed" in r.getMessage() for r in caplog.records)
    assert old[0].run_id not in _runs(service.cycle())  # type: ignore[attr-defined]
