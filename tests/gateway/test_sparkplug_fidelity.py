"""A live run over Sparkplug B gives the same stored records and KPIs as over UNS JSON.

The real live plant (bottling line, 4 h from ten minutes before the early shift, at 2400x)
publishes both formats on a real Mosquitto (``twin sim --mqtt-format both``); one gateway reads
the UNS JSON into one InfluxDB database, a second one, a Sparkplug host application
(``mqtt_format=sparkplug``, the edge nodes' primary host), reads Sparkplug B into another. Both
hold every record of the run exactly once (equal to what the simulator emitted, point by point:
same timestamps and record numbers), and the analytics service computes the same ``kpi`` points
from each, equal to the KPIs of the event log (as the service's fidelity test checks).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from analytics.service import AnalyticsService, InfluxConfig, InfluxQL, LineWriter, RunReader
from analytics.service.writer import make_sink
from tests.gateway import helpers as h
from tests.gateway.live_plant import LivePlant
from tests.servers.influxdb import InfluxServer
from tests.servers.mosquitto import Mosquitto
from tests.service.helpers import compare, stored_kpis

pytestmark = pytest.mark.integration


def points(influxd: InfluxServer, db: str, run_id: str) -> set[tuple]:
    """Every stored record as (series, time in ns, n): the record identity, as stored."""
    return {
        (s.record.kind, s.ts_ms, s.seq, s.n, h.key(s.record))
        for s in h.read_stored(influxd, db, run_id)
    }


def test_sparkplug_run_stores_the_same_records_and_kpis_as_uns(
    tmp_path: Path, influxd: InfluxServer, broker: Mosquitto
) -> None:
    plant = LivePlant(
        None,
        broker.url,
        until_s=4 * 3600,
        speed=2400,
        seed=11,
        mqtt_format="both",
        sparkplug_primary_host="twin-gateway",  # births wait for the host: no record missed
    )
    plant.serve()
    dbs = {fmt: influxd.create_database() for fmt in ("uns", "sparkplug")}
    gateways = [
        h.start_gateway(
            h.settings(
                tmp_path / fmt,
                influxd,
                db,
                mqtt_url=broker.url,
                mqtt_format=fmt,
                mqtt_client_id=f"gw-{fmt}",
                **({"sparkplug_host_id": "twin-gateway"} if fmt == "sparkplug" else {}),
            )
        )
        for fmt, db in dbs.items()
    ]
    try:
        plant.run()
        plant.wait(120)
        truth = plant.truth
        run_id = truth[0].run_id
        for db in dbs.values():
            h.wait_stored(influxd, db, len(truth), timeout_s=60)
    finally:
        for gateway in gateways:
            gateway.stop()
    assert all(g.failure() is None for g in gateways)
    stored = {fmt: h.read_stored(influxd, db, run_id) for fmt, db in dbs.items()}
    h.assert_same_records(truth, stored["sparkplug"])
    h.assert_same_records(truth, stored["uns"])
    assert points(influxd, dbs["sparkplug"], run_id) == points(influxd, dbs["uns"], run_id)
    kpis = {}
    for fmt, db in dbs.items():
        config = InfluxConfig(influxd.url, db)
        AnalyticsService(
            RunReader(InfluxQL(config)), LineWriter(make_sink(config)), settle_s=3600
        ).cycle()
        kpis[fmt] = stored_kpis(influxd, db)
    assert kpis["sparkplug"] == kpis["uns"]
    windows = Counter(k[3] for k in kpis["sparkplug"] if k[1] == "line")
    assert windows["hour"] >= 3 and windows["day"] == 1, windows
    assert compare(kpis["sparkplug"], truth, levels=("station", "line"), tol=0.001) > 500
