"""Sequencer: distinct records of one series-millisecond get distinct seq; repeats are skipped."""

from __future__ import annotations

from gateway.sequencer import HISTORY, LATE_BASE, Sequencer


def test_records_sharing_a_millisecond_are_numbered_in_arrival_order() -> None:
    seq = Sequencer()
    assert [seq.assign("mqtt", "s", 5, d, False) for d in (3, 4, 3)] == [0, 1, 2]
    assert seq.assign("mqtt", "s", 6, 3, False) == 0
    assert seq.assign("mqtt", "other", 5, 3, False) == 0


def test_flagged_repeats_are_duplicates() -> None:
    seq = Sequencer()
    assert seq.assign("mqtt", "s", 5, 3, False) == 0
    assert seq.assign("mqtt", "s", 5, 4, False) == 1
    assert seq.assign("mqtt", "s", 5, 3, True) is None  # MQTT dup / retained again
    assert seq.assign("mqtt", "s", 5, 7, True) == 2  # flagged but never seen: new


def test_second_source_stores_nothing_twice_and_fills_gaps() -> None:
    seq = Sequencer()
    for d in (3, 4, 3):
        seq.assign("mqtt", "s", 5, d, False)
    assert [seq.assign("opcua", "s", 5, d, False) for d in (3, 4, 3)] == [None, None, None]
    assert seq.assign("opcua", "s", 5, 9, False) == 3  # one MQTT did not deliver


def test_state_survives_a_restart() -> None:
    seq = Sequencer()
    seq.assign("mqtt", "s", 5, 3, False)
    seq.assign("mqtt", "s", 5, 4, False)
    changes, forgotten = seq.take_changes()
    assert set(changes) == {"s"} and not forgotten
    again = Sequencer()
    again.load("s", changes["s"])
    assert again.assign("mqtt", "s", 5, 4, True) is None
    assert again.assign("mqtt", "s", 5, 8, False) == 2
    assert seq.take_changes() == ({}, set())


def test_series_are_bounded() -> None:
    seq = Sequencer(max_series=2)
    for name in ("a", "b", "c"):
        seq.assign("mqtt", name, 1, 1, False)
    changes, forgotten = seq.take_changes()
    assert len(seq) == 2 and forgotten == {"a"} and set(changes) == {"b", "c"}


def test_records_older_than_the_kept_slots_overwrite_nothing() -> None:
    seq = Sequencer()
    for ts in range(100, 100 + HISTORY):
        assert seq.assign("mqtt", "s", ts, 1, False) == 0
    late = seq.assign("mqtt", "s", 5, 7, False)
    assert late is not None and late >= LATE_BASE
    assert seq.assign("mqtt", "s", 5, 7, True) == late  # the same content: the same point
    assert seq.assign("mqtt", "s", 5, 8, False) != late
