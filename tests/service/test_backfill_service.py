"""Backfill into a real InfluxDB, then the analytics service over the stored records.

Both write the ``kpi`` measurement; both must equal the KPIs of the simulator's own event log
over the same windows, and the service's recomputation must overwrite, never add, points.
"""

from __future__ import annotations

from collections import Counter

import pytest

from analytics.service import AnalyticsService, InfluxQL, LineWriter, RunReader, make_sink
from plant_sim.telemetry_schema import SCHEMAS
from tests.servers.influxdb import InfluxServer
from tests.service.fixtures import Backfilled, backfilled_db
from tests.service.helpers import compare, stored_kpis

pytestmark = pytest.mark.integration


@pytest.fixture
def bf(influxd: InfluxServer) -> Backfilled:
    return backfilled_db(influxd)


def _counts(influxd: InfluxServer, db: str) -> Counter[str]:
    out: Counter[str] = Counter()
    for schema in SCHEMAS.values():
        res = influxd.query(f'SELECT count("t") FROM "{schema.measurement}"', db)
        for series in res["results"][0].get("series", []) or []:
            out[schema.kind] += int(series["values"][0][1])
    return out


def test_backfill_stores_every_record_once(influxd: InfluxServer, bf: Backfilled) -> None:
    assert _counts(influxd, bf.db) == Counter(r.kind for r in bf.truth)
    assert bf.result.records == len(bf.truth)
    assert bf.result.start_ms % 86_400_000 == 0  # starts at UTC midnight


def test_backfill_kpis_equal_event_log(influxd: InfluxServer, bf: Backfilled) -> None:
    stored = stored_kpis(influxd, bf.db)
    windows = Counter(k[3] for k in stored if k[1] == "plant")
    assert windows == {"hour": 30, "day": 2, "shift": 3}  # 29.5 h from Monday 00:00 (Sunday off)
    assert compare(stored, bf.truth, levels=("station", "line", "plant"), tol=1e-9) > 10_000


def test_service_recomputes_from_influxdb_and_overwrites(
    influxd: InfluxServer, bf: Backfilled
) -> None:
    before = stored_kpis(influxd, bf.db)
    writer = LineWriter(make_sink(bf.config))
    service = AnalyticsService(RunReader(InfluxQL(bf.config)), writer)
    results = service.cycle()
    assert [r.run_id for r in results] == [bf.result.run_id]
    computed = Counter((w.kind, w.start_ms) for w in results[0].windows)
    backfilled = {(key[3], key[4]) for key in before}
    assert set(computed) == backfilled  # every window the backfill wrote, recomputed
    assert set(computed.values()) == {1}  # each once
    after = stored_kpis(influxd, bf.db)
    assert after.keys() == before.keys()  # overwritten, none added
    compare(after, bf.truth, levels=("station", "line", "plant"), tol=1e-9)
    # The run's last windows once more, until two cycles in a row read the same records for
    # them (a chunk of windows read differs the first time: its first windows became final).
    again = [service.cycle() for _ in range(3)]
    assert again[-1] == []
    assert again[0] and all(
        not w.complete_at(r.latest_ms, service.settle_ms) for r in again[0] for w in r.windows
    )
    assert stored_kpis(influxd, bf.db) == after  # the same records: the same KPIs
