"""``twin top`` against a real InfluxDB with known data: the plant_3lines backfill (29.5 h).

The newest shift window is shown; every one of the 30 stations, the three lines and the plant
have the parts, good parts, OEE, A, P and Q of the simulator's own event log over that window,
and the top losses are the event log's five longest stop reasons.
"""

from __future__ import annotations

from collections import defaultdict

import pytest
from rich.console import Console

from analytics.report import compute_report
from tests.servers.influxdb import InfluxServer
from tests.service.fixtures import Backfilled, backfilled_db
from twin.top.live import snapshot_of
from twin.top.view import duration, pct, render

pytestmark = pytest.mark.integration


@pytest.fixture
def bf(influxd: InfluxServer) -> Backfilled:
    return backfilled_db(influxd)


def _table_rows(text: str, width: int) -> list[list[str]]:
    return [
        [c.strip() for c in line.split("│")[1:-1]]
        for line in text.splitlines()
        if line.startswith("│") and len(line.split("│")) == width + 2
    ]


def _kpi_cells(scope) -> list[str]:
    k = scope.kpis
    return [pct(k.oee), pct(k.availability), pct(k.effectiveness), pct(k.quality_ratio)]


def test_top_shows_the_event_logs_kpis_of_the_newest_shift(bf: Backfilled) -> None:
    snap = snapshot_of(bf.config)
    assert snap.run_id == bf.result.run_id
    assert snap.window == "shift" and snap.shift
    console = Console(record=True, width=220, color_system=None)
    console.print(render(snap))
    text = console.export_text()
    report = compute_report(bf.truth, (snap.t0_s, snap.t1_s), shifts=False)

    stations = {row[1]: row for row in _table_rows(text, 11)}
    assert len(stations) == 30
    for station, row in stations.items():
        ref = report.scope(station)
        assert row[5:7] == [f"{ref.elements.pq:,.0f}", f"{ref.elements.gq:,.0f}"], station
        assert row[7:] == _kpi_cells(ref), station

    scopes = {row[0]: row for row in _table_rows(text, 9)}
    assert set(scopes) == {line.scope for line in report.lines} | {"plant"}
    for name, row in scopes.items():
        assert row[1:5] == _kpi_cells(report.scope(name)), name
    assert report.plant.kpis.oee is not None

    times: dict[str, float] = defaultdict(float)
    for r in report.reason_losses:
        times[f"{r.state}:{r.reason}"] += r.time_s
    top5 = sorted(times.items(), key=lambda kv: -kv[1])[:5]
    assert top5, "the window has stops"
    losses = [row for row in _table_rows(text, 3) if row[0] in times]
    assert [(row[0], row[2]) for row in losses] == [(k, duration(v)) for k, v in top5]
