"""The lean MQTT parser: packets of every length, split anywhere across reads."""

from __future__ import annotations

import pytest

from gateway.sources import mqtt_wire as wire


def publish(topic: str, payload: bytes, qos: int, pid: int, dup: bool = False) -> bytes:
    t = topic.encode()
    body = len(t).to_bytes(2, "big") + t + (pid.to_bytes(2, "big") if qos else b"") + payload
    header = 0x30 | (qos << 1) | (8 if dup else 0)
    return bytes([header]) + wire._length(len(body)) + body


STREAM = [
    (publish("a/b", b"x", 1, 7), wire.Publish("a/b", b"x", 1, 7, False, False)),
    (
        publish("é/ü", b"y" * 300, 1, 65535, dup=True),
        wire.Publish("é/ü", b"y" * 300, 1, 65535, True, False),
    ),
    (publish("q0", b"z" * 20_000, 0, 0), wire.Publish("q0", b"z" * 20_000, 0, 0, False, False)),
    (b"\xd0\x00", wire.Packet(wire.PINGRESP, b"")),
    (
        publish("big", b"w" * 2_100_000, 1, 1),
        wire.Publish("big", b"w" * 2_100_000, 1, 1, False, False),
    ),
    (b"\x90\x03\x00\x01\x01", wire.Packet(wire.SUBACK, b"\x00\x01\x01")),
]  # fmt: skip


@pytest.mark.parametrize("step", [1, 2, 3, 7, 300, 65_536, 10_000_000])
def test_packets_split_across_reads_come_out_whole_and_in_order(step: int) -> None:
    data = b"".join(raw for raw, _ in STREAM)
    parser = wire.Parser()
    got: list = []
    if step == 1:  # every boundary, but only over the small packets (quick)
        data = b"".join(raw for raw, _ in STREAM[:4])
    for i in range(0, len(data), step):
        got += parser.feed(data[i : i + step])
    want = [p for _, p in STREAM[:4]] if step == 1 else [p for _, p in STREAM]
    assert got == want


def test_a_remaining_length_over_four_bytes_is_a_protocol_error() -> None:
    with pytest.raises(wire.ProtocolError, match="remaining length"):
        wire.Parser().feed(b"\x30\xff\xff\xff\xff\x01")
