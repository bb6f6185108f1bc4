"""The Sparkplug host's session rules (``gateway.sparkplug_host``), message by message."""

from __future__ import annotations

from pathlib import Path

from gateway.sparkplug_host import SparkplugHost
from twin_io.sparkplug_payload import RECORD_METRIC, DataType, Payload, metric

NODE = "spBv1.0/g1/{}/n1"


def nbirth(bd_seq: int = 3) -> bytes:
    birth = Payload(timestamp=1, seq=0)
    birth.metrics.append(metric(0, DataType.INT64, bd_seq, 1, "bdSeq"))
    birth.metrics.append(metric(1, DataType.STRING, "", 1, RECORD_METRIC))
    return birth.SerializeToString()


def ndeath(bd_seq: int) -> bytes:
    death = Payload(timestamp=1)
    death.metrics.append(metric(0, DataType.INT64, bd_seq, 1, "bdSeq"))
    return death.SerializeToString()


def dbirth(seq: int) -> bytes:
    birth = Payload(timestamp=1, seq=seq)
    birth.metrics.append(metric(5, DataType.DOUBLE, 1.0, 1, "Temperature"))
    return birth.SerializeToString()


def data(seq: int, *values: str, alias: int = 1) -> bytes:
    payload = Payload(timestamp=1, seq=seq)
    for value in values:
        payload.metrics.append(metric(alias, DataType.STRING, value, 1))
    return payload.SerializeToString()


def test_seq_wraps_without_a_gap_and_records_come_out() -> None:
    host = SparkplugHost()
    assert host.handle(NODE.format("NBIRTH"), nbirth()).reason is None
    outs = [host.handle(NODE.format("NDATA"), data(s % 256, f"r{s}")) for s in range(1, 300)]
    assert all(o.reason is None and o.rebirth is None for o in outs)
    assert [o.records for o in outs][:2] == [[b"r1"], [b"r2"]]
    assert host.seq_gaps == 0


def test_a_gap_asks_for_one_rebirth_until_the_nbirth() -> None:
    host = SparkplugHost()
    host.handle(NODE.format("NBIRTH"), nbirth())
    first = host.handle(NODE.format("NDATA"), data(5, "a"))
    assert first.rebirth is not None and first.rebirth.node_key == "g1/n1"
    assert first.records == [b"a"]  # the record carries its identity: still stored
    again = host.handle(NODE.format("NDATA"), data(9, "b"))
    assert again.rebirth is None  # asked already, within REBIRTH_RETRY_S
    host.handle(NODE.format("NBIRTH"), nbirth())
    assert host.handle(NODE.format("NDATA"), data(7, "c")).rebirth is not None
    assert host.seq_gaps == 3


def test_deaths_mark_offline_and_data_after_them_are_dead_letters() -> None:
    host = SparkplugHost()
    host.handle(NODE.format("NBIRTH"), nbirth(bd_seq=3))
    host.handle(NODE.format("DBIRTH") + "/d1", dbirth(1))
    host.handle(NODE.format("DDEATH") + "/d1", Payload(seq=2).SerializeToString())
    out = host.handle(NODE.format("DDATA") + "/d1", data(3, alias=5))
    assert "before the DBIRTH" in (out.reason or "") and out.rebirth is not None
    assert host.handle(NODE.format("NDEATH"), ndeath(2)).reason is None  # an older session's
    assert host.sessions["g1/n1"].node.online
    host.handle(NODE.format("NDEATH"), ndeath(3))
    assert not host.sessions["g1/n1"].node.online
    out = host.handle(NODE.format("NDATA"), data(4, "late"))
    assert "before the NBIRTH" in (out.reason or "") and out.records == []


def test_births_survive_a_restart_of_the_host(tmp_path: Path) -> None:
    births = tmp_path / "births.json"
    host = SparkplugHost(births)
    host.handle(NODE.format("NBIRTH"), nbirth())
    host.handle(NODE.format("DBIRTH") + "/d1", dbirth(1))
    restarted = SparkplugHost(births)
    out = restarted.handle(NODE.format("NDATA"), data(42, "queued"))
    assert (out.reason, out.rebirth, out.records) == (None, None, [b"queued"])
    wrong = restarted.handle(NODE.format("DDATA") + "/d1", data(43, "x", alias=5))
    assert "wrong type" in (wrong.reason or "")


def test_commands_and_states_are_not_data() -> None:
    host = SparkplugHost()
    for topic in (NODE.format("NCMD"), "spBv1.0/STATE/host1", "spBv1.0/g1/DCMD/n1/d1"):
        out = host.handle(topic, b"\x00junk")
        assert (out.reason, out.rebirth, out.records) == (None, None, [])


def test_devices_and_nodes_are_bounded(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr("gateway.sparkplug_host.MAX_DEVICES", 2)
    host = SparkplugHost(max_nodes=2)
    host.handle(NODE.format("NBIRTH"), nbirth())
    outs = [host.handle(NODE.format("DBIRTH") + f"/d{i}", dbirth(i + 1)) for i in range(3)]
    assert [o.reason is None for o in outs] == [True, True, False]
    assert "more than 2 devices" in (outs[2].reason or "")
    for n in range(5):
        host.handle(f"spBv1.0/g1/NBIRTH/x{n}", nbirth())
    assert list(host.sessions) == ["g1/x3", "g1/x4"]


def test_templates_and_data_sets_are_declared_not_read() -> None:
    """An edge node with a template (Ignition UDTs) is born and its records still come."""
    host = SparkplugHost()
    birth = Payload(timestamp=1, seq=0)
    birth.metrics.append(metric(1, DataType.STRING, "", 1, RECORD_METRIC))
    udt = birth.metrics.add(name="Motor", alias=7, datatype=19)  # Template
    udt.bytes_value = b"\x01"  # not a field this codec knows for templates: not looked at
    assert host.handle(NODE.format("NBIRTH"), birth.SerializeToString()).reason is None
    update = Payload(timestamp=1, seq=1)
    update.metrics.add(alias=7).bytes_value = b"\x02"
    update.metrics.append(metric(1, DataType.STRING, "rec", 1))
    out = host.handle(NODE.format("NDATA"), update.SerializeToString())
    assert (out.reason, out.records) == (None, [b"rec"])
