"""Every record survives the wire format: encode then decode gives it back."""

from __future__ import annotations

import orjson
import pytest

from plant_sim import payloads
from plant_sim.simulation import run_batch
from tests.plant_sim.helpers import make, scenario_data


def test_every_record_kind_round_trips_through_a_payload() -> None:
    data = scenario_data("tandem_mm1")
    data["events"] = [{"kind": "demand_surge", "at": 100, "duration": 600, "factor": 2}]
    log = run_batch(make(data), until_s=20000)
    kinds = set()
    for record in log.records:
        record_back, run_id, ts_ms = payloads.decode(payloads.encode(record, "tandem_mm1-s3", 1000))
        assert record_back == record
        assert run_id == "tandem_mm1-s3"
        assert ts_ms == 1000 + round(record.t * 1000)
        kinds.add(record.kind)
    assert {"run_start", "state", "part", "release", "exit", "buffer", "order", "run_end"} <= kinds


def test_readable_extras_are_ignored_by_decode() -> None:
    record = run_batch(make(scenario_data("tandem_mm1")), until_s=600).records[1]
    doc = orjson.loads(payloads.encode(record, "r", 0))
    doc["uns"] = {"state_num": 3}
    assert payloads.decode(orjson.dumps(doc))[0] == record


@pytest.mark.parametrize(
    ("payload", "names"),
    [
        (b"{not json", "not JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"kind": "state", "ts_ms": 5}', "run_id"),
        (b'{"kind": "state", "run_id": "r", "ts_ms": "5"}', "ts_ms"),
        (b'{"kind": "bogus", "run_id": "r", "ts_ms": 5}', "kind"),
        (b"x" * (payloads.MAX_PAYLOAD_BYTES + 1), "limit"),
    ],
)
def test_bad_payloads_are_rejected_naming_the_field(payload: bytes, names: str) -> None:
    with pytest.raises(payloads.PayloadError, match=names):
        payloads.decode(payload)
