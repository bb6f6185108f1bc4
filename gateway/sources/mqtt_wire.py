"""The few MQTT 3.1.1 packets a QoS 1 subscriber needs, encoded and decoded in bulk.

A subscriber only sends CONNECT, SUBSCRIBE, PUBACK, PINGREQ and DISCONNECT and only receives
CONNACK, SUBACK, PUBLISH, PINGRESP (and UNSUBACK, ignored). ``Parser.feed(data)`` returns every
complete packet in a chunk of bytes, so one ``recv`` of 256 KiB yields thousands of messages, and
``pubacks(ids)`` acknowledges a whole batch in one ``send`` (paho reads and acknowledges one
packet at a time, which caps it near 14k QoS 1 messages/s here).
"""

from __future__ import annotations

from typing import NamedTuple

CONNACK, PUBLISH, PUBACK, SUBACK, PINGRESP = 2, 3, 4, 9, 13
PINGREQ = b"\xc0\x00"
DISCONNECT = b"\xe0\x00"
MAX_PACKET = 268_435_455

CONNACK_ERRORS = {
    1: "unacceptable protocol version",
    2: "client identifier rejected",
    3: "server unavailable",
    4: "bad user name or password",
    5: "not authorised",
}


class ProtocolError(Exception):
    """The broker sent something a 3.1.1 subscriber cannot accept."""


class Publish(NamedTuple):
    """A received PUBLISH."""

    topic: str
    payload: bytes
    qos: int
    packet_id: int
    dup: bool
    retain: bool


class Packet(NamedTuple):
    """Any other received packet: its type and its body."""

    type: int
    body: bytes


def _length(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _str(s: str) -> bytes:
    b = s.encode()
    return len(b).to_bytes(2, "big") + b


def connect(
    client_id: str, keepalive_s: int, clean: bool, username: str | None, password: str | None
) -> bytes:
    """Return a CONNECT packet (protocol level 4)."""
    flags = (0x02 if clean else 0) | (0x80 if username else 0) | (0x40 if password else 0)
    body = _str("MQTT") + bytes([4, flags]) + keepalive_s.to_bytes(2, "big") + _str(client_id)
    if username:
        body += _str(username)
    if password:
        body += _str(password)
    return b"\x10" + _length(len(body)) + body


def subscribe(packet_id: int, topics: list[tuple[str, int]]) -> bytes:
    """Return a SUBSCRIBE packet."""
    body = packet_id.to_bytes(2, "big") + b"".join(_str(t) + bytes([q]) for t, q in topics)
    return b"\x82" + _length(len(body)) + body


def pubacks(packet_ids: list[int]) -> bytes:
    """Return PUBACK packets for ``packet_ids``, concatenated."""
    return b"".join(b"\x40\x02" + pid.to_bytes(2, "big") for pid in packet_ids)


class Parser:
    """Splits a byte stream into packets.

    A packet cut off by the end of a read waits in a bytearray that grows in
    place until it is whole, so a large packet arriving in many small reads
    costs linear time, not a copy per read.
    """

    def __init__(self) -> None:
        self._pending = bytearray()
        self._need = 0  # bytes the pending packet needs before it can be parsed

    def feed(self, data: bytes) -> list[Publish | Packet]:
        """Add received bytes; return the packets now complete, in order."""
        if self._pending:
            self._pending += data
            if len(self._pending) < self._need:
                return []
            buf = bytes(self._pending)
            self._pending.clear()
        else:
            buf = bytes(data)
        out: list[Publish | Packet] = []
        i, n = 0, len(buf)
        need = 0
        while i < n:
            if i + 1 == n:
                need = 2
                break
            header, byte = buf[i], buf[i + 1]
            length, j = byte & 0x7F, i + 2
            if byte & 0x80:  # a remaining length of two to four bytes
                length, j = _long_length(buf, i + 1)
                if j < 0:
                    need = n - i + 1
                    break
            end = j + length
            if end > n:
                need = end - i
                break
            if header >> 4 == PUBLISH:
                out.append(_publish(header, buf, j, end))
            else:
                out.append(Packet(header >> 4, buf[j:end]))
            i = end
        if i < n:
            self._pending += buf[i:] if i else buf
            self._need = need
        return out


def _long_length(buf: bytes, start: int) -> tuple[int, int]:
    """Decode a remaining length at ``start``: ``(length, end)``, end -1 when incomplete."""
    length, mult = 0, 1
    for j in range(start, min(start + 4, len(buf))):
        byte = buf[j]
        length += (byte & 0x7F) * mult
        if not byte & 0x80:
            return length, j + 1
        mult *= 128
    if len(buf) - start >= 4:
        raise ProtocolError("malformed remaining length")
    return 0, -1


def _publish(header: int, buf: bytes, start: int, end: int) -> Publish:
    qos = (header >> 1) & 3
    p = start + 2 + (buf[start] << 8 | buf[start + 1])
    topic = buf[start + 2 : p].decode("utf-8", "replace")
    pid = 0
    if qos:
        pid = buf[p] << 8 | buf[p + 1]
        p += 2
    return Publish(topic, buf[p:end], qos, pid, bool(header & 8), bool(header & 1))
