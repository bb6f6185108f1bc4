"""DiskBuffer: FIFO of chunks on disk, bounded in lines with drop-oldest, state kept with them."""

from __future__ import annotations

from pathlib import Path

from gateway.buffer import DiskBuffer


def chunk(n: int, start: int = 0) -> tuple[int, str, list[str]]:
    return (start, "m" * n, [f"m v={i}i {i}" for i in range(start, start + n)])


def lines_of(buf: DiskBuffer) -> list[bytes]:
    return b"\n".join(c.body for c in buf.peek(10**6)).split(b"\n")


def test_fifo_ack_and_restart(tmp_path: Path) -> None:
    buf = DiskBuffer(tmp_path / "b.sqlite", 100)
    assert buf.append(chunk(4), {"s": b"[]"}, (), [("r1", b"{}")]) == 0
    buf.append(chunk(6, 4))
    first = buf.peek(5)
    assert [c.n for c in first] == [4]  # whole chunks, at least one
    buf.ack(first[-1].id)
    assert len(buf) == 6
    buf.set_meta("influx_api", "v1")
    buf.close()
    again = DiskBuffer(tmp_path / "b.sqlite", 100)
    assert len(again) == 6 and again.peek(100)[0].received_ms == 4
    assert again.seq_states() == [("s", b"[]")] and again.runs() == [("r1", b"{}")]
    assert again.get_meta("influx_api") == "v1"


def test_full_buffer_drops_the_oldest_lines(tmp_path: Path) -> None:
    buf = DiskBuffer(tmp_path / "b.sqlite", 10)
    buf.append(chunk(4))
    buf.append(chunk(4, 4))
    assert buf.append(chunk(5, 100)) == 3
    assert len(buf) == 10 and buf.free() == 0
    got = lines_of(buf)
    assert got[0] == b"m v=3i 3" and len(got) == 10
    assert buf.peek(100)[0].sources == "m"


def test_append_if_room_never_drops(tmp_path: Path) -> None:
    buf = DiskBuffer(tmp_path / "b.sqlite", 10)
    buf.append(chunk(8))
    assert not buf.append_if_room(chunk(3, 100))  # would push out two lines: refused
    assert len(buf) == 8 and lines_of(buf)[0] == b"m v=0i 0"
    assert buf.append_if_room(chunk(2, 100))  # fits exactly
    assert len(buf) == 10 and lines_of(buf)[-1] == b"m v=101i 101"
    roomy = DiskBuffer(tmp_path / "c.sqlite", 10)
    assert not roomy.append_if_room(chunk(3), keep_free=8) and len(roomy) == 0
    assert roomy.append_if_room(chunk(2), keep_free=8) and len(roomy) == 2
