"""DiskBuffer: FIFO on disk, bounded with drop-oldest, state persisted with the rows."""

from __future__ import annotations

from pathlib import Path

from gateway.buffer import DiskBuffer


def rows(n: int, start: int = 0) -> list[tuple[str, int, str]]:
    return [("mqtt", i, f"m v={i}i {i}") for i in range(start, start + n)]


def test_fifo_ack_and_restart(tmp_path: Path) -> None:
    buf = DiskBuffer(tmp_path / "b.sqlite", 100)
    assert buf.append(rows(10), {"s": b"[]"}, (), [("r1", b"{}")]) == 0
    first = buf.peek(4)
    assert [r.received_ms for r in first] == [0, 1, 2, 3]
    buf.ack(first[-1].id)
    assert len(buf) == 6
    buf.set_meta("influx_api", "v1")
    buf.close()
    again = DiskBuffer(tmp_path / "b.sqlite", 100)
    assert len(again) == 6 and again.peek(1)[0].received_ms == 4
    assert again.seq_states() == [("s", b"[]")] and again.runs() == [("r1", b"{}")]
    assert again.get_meta("influx_api") == "v1"


def test_full_buffer_drops_the_oldest(tmp_path: Path) -> None:
    buf = DiskBuffer(tmp_path / "b.sqlite", 10)
    buf.append(rows(8))
    assert buf.append(rows(5, 100)) == 3
    assert len(buf) == 10 and buf.free() == 0
    assert [r.received_ms for r in buf.peek(3)] == [3, 4, 5]
    buf.remove([buf.peek(1)[0].id])
    assert len(buf) == 9
