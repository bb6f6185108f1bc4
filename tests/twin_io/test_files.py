"""Output files are written whole or not at all (``twin_io.files.written_whole``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from twin_io.files import written_whole


def test_a_finished_write_replaces_the_file(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    out.write_text("old")
    with written_whole(out) as tmp:
        assert tmp != out and tmp.parent == out.parent
        tmp.write_text("new")
        assert out.read_text() == "old"  # not before the block ends
    assert out.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


def test_a_failed_write_leaves_the_previous_file_and_no_temporary(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    out.write_text("old, whole")
    with pytest.raises(OSError, match="No space left"), written_whole(out) as tmp:
        tmp.write_text("half")
        raise OSError(28, "No space left on device")
    assert out.read_text() == "old, whole"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


def test_a_new_file_that_fails_is_not_left_half_written(tmp_path: Path) -> None:
    out = tmp_path / "new.csv"
    with pytest.raises(KeyboardInterrupt), written_whole(out) as tmp:
        tmp.write_text("a,b\n1,")
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_a_device_is_written_in_place() -> None:
    with written_whole("/dev/null") as path:
        assert path == Path("/dev/null")
        path.write_text("gone")
