"""The supply board's stock panel: stock against its reorder point, and stock-outs.

plant_3lines with a small steel stock and a long supplier outage runs out of steel. Its
records go through the gateway's normaliser (the MQTT payload decoded and encoded as the
gateway stores it) into a real InfluxDB; the panel's own queries then return every ``stock``
record of the event log, one for one, with its reorder point, and the records taken while the
stock is out, from which the stock-outs the KPI engine counts follow.
"""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter

from analytics.service import InfluxConfig, LineWriter, make_sink
from analytics.service.backfill import shifted
from analytics.supply import SHORTAGE, compute_supply, stockouts_by_material
from dashboards.checks import expand, queries
from dashboards.files import build_all
from gateway.normalize import Accepted, Normalizer, RawMessage
from gateway.record_numbers import identity_seq
from plant_sim import payloads
from plant_sim.records import Record, StockLevel
from plant_sim.scenario import ScenarioEventSpec, load_scenario
from plant_sim.simulation import Simulation
from plant_sim.telemetry_schema import NUMBER_FIELD, SOURCE_FIELD
from tests.servers.influxdb import InfluxServer
from tests.service.fixtures import SCENARIO

pytestmark = pytest.mark.integration
START_MS = 1_767_571_200_000  # Monday 2026-01-05 00:00 UTC
HOURS = 20
RUN_ID = "short-steel"
REORDER_POINT = 200.0
ALL = dict.fromkeys(("site", "run", "line", "station"), ".*")


def _scenario():
    base = load_scenario(SCENARIO)
    steel = base.supply.materials[0].model_copy(
        update={"initial": 300.0, "reorder_point": REORDER_POINT, "order_quantity": 400.0}
    )
    outage = TypeAdapter(ScenarioEventSpec).validate_python(
        {"kind": "supplier_outage", "at": "1h", "duration": "14h", "supplier": steel.supplier}
    )
    return shifted(
        base.model_copy(
            update={
                "supply": base.supply.model_copy(update={"materials": [steel]}),
                "events": [outage],
            }
        ),
        START_MS,
    )


def _through_the_gateway(records: list[Record]) -> list[str]:
    """Each record as its MQTT payload, normalised and stored as the gateway does."""
    normalizer, out = Normalizer(), []
    for n, r in enumerate(records):
        raw = RawMessage("mqtt", payloads.encode(r, RUN_ID, START_MS, n))
        res = normalizer.normalize(raw)
        assert isinstance(res, Accepted), res
        ts_ns = res.ts_ms * 1_000_000 + identity_seq(n)
        out.append(f'{res.series} {res.fields},{NUMBER_FIELD}={n}i,{SOURCE_FIELD}="mqtt" {ts_ns}')
    return out


@pytest.fixture(scope="module")
def stored(influxd: InfluxServer) -> tuple[str, list[Record]]:
    records: list[Record] = []
    sim = Simulation(_scenario(), records.append, run_id=RUN_ID, start_epoch_ms=START_MS)
    sim.run(HOURS * 3600.0)
    sim.finish()
    db = influxd.create_database()
    writer = LineWriter(make_sink(InfluxConfig(influxd.url, db)))
    writer.prepare()
    writer.write(_through_the_gateway(records))
    writer.close()
    return db, records


def _stock_targets() -> list[dict]:
    """The stock panel's targets (the level with its reorder point; the stock-out records)."""
    panels = {
        p["title"]: p
        for p, _ in queries(build_all()["supply.json"])
        if p["title"].startswith("Raw-material stock against its reorder point")
    }
    (panel,) = panels.values()
    return panel["targets"]


def _rows(influxd: InfluxServer, db: str, query: str) -> list[tuple[int, float, ...]]:
    q = expand(query, START_MS, START_MS + HOURS * 3_600_000, "1m", ALL)
    res = influxd.query(q, db, epoch="ms")["results"][0]
    assert "error" not in res, res
    (series,) = res["series"]  # one material
    assert series["tags"] == {"material": "steel"}
    return [tuple(row) for row in series["values"]]


def test_stock_panel_draws_every_stock_record_against_its_reorder_point(
    influxd: InfluxServer, stored: tuple[str, list[Record]]
) -> None:
    db, records = stored
    stock = [r for r in records if isinstance(r, StockLevel)]
    assert {r.reorder_point for r in stock} == {REORDER_POINT}
    level, _ = _stock_targets()
    rows = _rows(influxd, db, level["query"])
    assert rows == [(START_MS + round(r.t * 1000), r.level, r.reorder_point) for r in stock]
    assert min(r[1] for r in rows) < REORDER_POINT < max(r[1] for r in rows)


def test_stock_panel_marks_the_stock_outs_the_kpi_engine_counts(
    influxd: InfluxServer, stored: tuple[str, list[Record]]
) -> None:
    db, records = stored
    stock = [r for r in records if isinstance(r, StockLevel)]
    out = [r for r in stock if r.cause == SHORTAGE or r.level <= 0]
    _, outs = _stock_targets()
    rows = _rows(influxd, db, outs["query"])
    assert rows == [(START_MS + round(r.t * 1000), r.level) for r in out]
    # The stock-outs started, from what the panel shows: a record at a new time that is out
    # after one that was not (the last record at a time gives the state then).
    marked = {row[0] for row in rows}
    state: dict[int, bool] = {}
    for r in stock:
        ms = START_MS + round(r.t * 1000)
        state[ms] = ms in marked and (r.cause == SHORTAGE or r.level <= 0)
    flags = [state[ms] for ms in sorted(state)]
    starts = sum(1 for a, b in zip([False, *flags], flags, strict=False) if b and not a)
    truth = compute_supply(
        [], stockouts_by_material(stock, 0.0, HOURS * 3600.0, True), 0.0, HOURS * 3600.0
    )
    assert truth.stockouts >= 1 and truth.stockout_h > 1.0
    assert starts == truth.stockouts
