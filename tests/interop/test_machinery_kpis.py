"""KPIs for machines the twin did not simulate: a Machinery server -> gateway -> InfluxDB -> KPIs.

The server (tests/interop/machinery_server.py) is built only from the OPC Foundation NodeSets
with asyncua, no twin code. It plays a half-hour script for Press7 (and changes on Welder2,
which the mapping leaves out); the real gateway reads it under docs/machinery/press_shop.yaml,
stores the records in a real InfluxDB, and the analytics service computes the KPIs, which must
equal the values computed by hand from the script below.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from analytics.service import AnalyticsService, InfluxConfig, InfluxQL, LineWriter, RunReader
from analytics.service.writer import make_sink
from gateway.app import Gateway
from plant_sim.records import PartDone, RunStart, StateChange
from tests.gateway import helpers as h
from tests.interop.machinery_server import MachineryServer
from tests.servers.influxdb import InfluxServer
from tests.servers.mosquitto import free_port
from tests.service.helpers import stored_kpis

pytestmark = pytest.mark.integration
MAPPING = Path(__file__).resolve().parents[2] / "docs" / "machinery" / "press_shop.yaml"
PRI = 20.0  # planned_cycle_time_s of Press7 in the mapping

# (seconds after 06:00, MachineryItemState, MachineryOperationMode); None = unchanged
SCRIPT_STATES = [
    (600, "OutOfService", None),  # a breakdown: ADET
    (720, "Executing", None),
    (900, None, "Setup"),  # AUST
    (960, None, "Processing"),
    (1200, "NotExecuting", None),  # waiting: ADOT
    (1500, "NotAvailable", "None"),  # switched off: outside the planned busy time
    (1800, "NotExecuting", None),
]
GOOD_AT = [*range(25, 576, 25), *range(740, 901, 20), *range(980, 1201, 20)]  # 23 + 9 + 12
SCRAP_AT = [300, 550]
# By hand: APT = 600 + 180 + 240 = 1020 s (Executing+Processing), AUST = 60, ADET = 120,
# ADOT = 300 (1200-1500); NotAvailable 1500-1800 is outside PBT, so PBT = 1500 s.
GQ, SQ = len(GOOD_AT), len(SCRAP_AT)
PQ = GQ + SQ
APT, PBT = 1020.0, 1500.0
EXPECTED = {
    "availability": APT / PBT,  # 0.68
    "effectiveness": PRI * PQ / APT,  # 0.9020
    "quality_ratio": GQ / PQ,  # 0.9565
    "oee": PRI * GQ / PBT,  # 0.5867
}


async def test_machinery_server_kpis_equal_hand_computed(
    tmp_path: Path, influxd: InfluxServer, influx_db: str
) -> None:
    endpoint = f"opc.tcp://127.0.0.1:{free_port()}/machinery/"
    server = MachineryServer(endpoint)
    await server.start()
    gateway: Gateway | None = None
    try:
        press = await server.add_machine("Press7")
        welder = await server.add_machine("Welder2")
        await press.state(0, "Executing", "Processing")
        await welder.state(0, "Executing", "Processing")
        settings = h.settings(
            tmp_path, influxd, influx_db, opcua_endpoint=endpoint, opcua_mapping=MAPPING
        )
        gateway = await asyncio.to_thread(h.start_gateway, settings)
        source = gateway.sources[0]
        events = sorted(
            [(t, 0, "state", (item, mode)) for t, item, mode in SCRIPT_STATES]
            + [(t, 1, "count", ("Good", n)) for n, t in enumerate(GOOD_AT, 1)]
            + [(t, 1, "count", ("Scrap", n)) for n, t in enumerate(SCRAP_AT, 1)]
        )
        for t, _, what, args in events:
            if what == "state":
                await press.state(t, *args)
            else:
                await press.count(t, *args)
        await welder.state(100, "OutOfService")  # not in the mapping: no records
        await welder.count(110, "Good", 5)
        n_records = 1 + 1 + len(SCRIPT_STATES) + PQ  # run_start, initial state, changes, parts
        await asyncio.to_thread(h.wait_stored, influxd, influx_db, n_records, 60)
    finally:
        if gateway is not None:
            await asyncio.to_thread(gateway.stop)
        await server.stop()
    assert source.translator is not None
    run_id = source.translator.run_id
    stored = [s.record for s in h.read_stored(influxd, influx_db, run_id)]
    assert len(stored) == n_records  # nothing more (Welder2), nothing twice
    assert isinstance(stored[0], RunStart)
    assert stored[0].lines == [{"line": "press_line", "stations": ["press7"], "buffers": []}]
    states = [(r.t, r.state.value) for r in stored if isinstance(r, StateChange)]
    assert states == [
        (0.0, "processing"),
        (600.0, "down"),
        (720.0, "processing"),
        (900.0, "setup"),
        (960.0, "processing"),
        (1200.0, "idle"),
        (1500.0, "off_shift"),
        (1800.0, "idle"),
    ]
    parts = sorted((r.t, r.result) for r in stored if isinstance(r, PartDone))
    want = sorted([(float(t), "good") for t in GOOD_AT] + [(float(t), "scrap") for t in SCRAP_AT])
    assert parts == want
    assert {r.planned_cycle_time_s for r in stored if isinstance(r, PartDone)} == {PRI}

    config = InfluxConfig(influxd.url, influx_db)
    service = AnalyticsService(
        RunReader(InfluxQL(config)), LineWriter(make_sink(config)), run_ids=[run_id]
    )
    await asyncio.to_thread(service.cycle)
    kpis = stored_kpis(influxd, influx_db)
    hour = [row for key, row in kpis.items() if key[1] == "station" and key[3] == "hour"]
    assert len(hour) == 1, sorted(kpis)
    row = hour[0]
    assert (row["pq"], row["gq"], row["sq"]) == (PQ, GQ, SQ)
    for name, value in EXPECTED.items():
        assert row[name] == pytest.approx(value, abs=1e-9), name
