"""The live plant's records reach InfluxDB exactly once, over MQTT, over OPC UA, and over both.

The real live twin (plant_sim.live: OPC UA server with record events, MQTT UNS publisher) runs
a paced simulation; three gateways store it into three databases: MQTT only, OPC UA only, and
both sources at once (each record stored once, whichever source delivered it first).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.gateway import helpers as h
from tests.gateway.live_plant import LivePlant
from tests.servers.influxdb import InfluxServer, free_port
from tests.servers.mosquitto import Mosquitto

pytestmark = pytest.mark.integration


def test_live_plant_over_mqtt_and_opcua_exactly_once(
    tmp_path: Path, influxd: InfluxServer, broker: Mosquitto
) -> None:
    plant = LivePlant(free_port(), broker.url, until_s=3 * 3600, speed=1200, scenario="tandem_mm1")
    plant.serve()
    dbs = {name: influxd.create_database() for name in ("mqtt", "opcua", "both")}
    sources = {
        "mqtt": {"mqtt_url": broker.url},
        "opcua": {"opcua_endpoint": plant.opcua_endpoint},
        "both": {
            "mqtt_url": broker.url,
            "opcua_endpoint": plant.opcua_endpoint,
            "opcua_event_scope": "machines",
        },
    }
    gateways = {
        name: h.start_gateway(
            h.settings(tmp_path / name, influxd, dbs[name], mqtt_client_id=f"gw-{name}", **kw)
        )
        for name, kw in sources.items()
    }
    try:
        plant.run()
        plant.wait(120)
        truth = plant.truth
        run_id = truth[0].run_id
        assert len(truth) > 1000
        for name, db in dbs.items():
            h.wait_stored(influxd, db, len(truth), timeout_s=60)
            stored = h.read_stored(influxd, db, run_id)
            h.assert_same_records(truth, stored)
            assert gateways[name].failure() is None
        both = {s.source for s in h.read_stored(influxd, dbs["both"], run_id)}
        assert both <= {"mqtt", "opcua"}
        stats = gateways["both"].stats

        def every_record_came_twice() -> bool:
            snap = stats.snapshot()
            return all(snap[s]["records_in"] == len(truth) for s in ("mqtt", "opcua"))

        h.wait_until(every_record_came_twice, 20, f"both sources ({stats.snapshot()})")
        # stored once although delivered twice: the second copy is a duplicate or, if it came
        # more than the sequencer's slot history late, an identical overwrite of the same point
        h.assert_same_records(truth, h.read_stored(influxd, dbs["both"], run_id))
    finally:
        for gw in gateways.values():
            gw.stop()
