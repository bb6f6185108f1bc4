"""SIGINT and SIGTERM as stop requests inside ``stop_requests`` (signals sent to this process)."""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path

import pytest

from twin_io.stop_signals import stop_requests


def _send(sig: signal.Signals) -> None:
    """Send ``sig`` to this process; its handler has run when this returns (main thread)."""
    os.kill(os.getpid(), sig)


def test_a_signal_is_noted_not_fatal_and_the_handlers_come_back() -> None:
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    with stop_requests() as stop:
        assert not stop.is_set() and stop.name == "an interrupt"
        _send(signal.SIGTERM)
        assert stop.is_set() and stop.signal == signal.SIGTERM and stop.name == "SIGTERM"
        _send(signal.SIGINT)  # a second one: noted, the first is kept
        assert stop.signal == signal.SIGTERM
    assert {s: signal.getsignal(s) for s in before} == before


def test_with_interrupt_the_first_signal_raises_and_later_ones_do_not() -> None:
    with stop_requests(interrupt=True) as stop:
        with pytest.raises(KeyboardInterrupt):
            _send(signal.SIGTERM)
        _send(signal.SIGINT)  # while the command stops: no second KeyboardInterrupt
        assert stop.signal == signal.SIGTERM


def test_a_signal_ignored_before_stays_ignored() -> None:
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # as in a shell's background job
    try:
        with stop_requests() as stop:
            _send(signal.SIGINT)
            assert not stop.is_set()
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)


def test_signal_handlers_are_set_in_stop_signals_only() -> None:
    """The README's promise: every handler the project sets is set by ``twin_io.stop_signals``
    (but ``twin sim``'s asyncio loop handlers, ``loop.add_signal_handler``)."""
    root = Path(__file__).resolve().parents[2]
    setters = re.compile(r"\bsignal\.signal\(")
    found = [
        str(path.relative_to(root))
        for package in ("analytics", "dashboards", "gateway", "plant_sim", "twin", "twin_io")
        for path in (root / package).rglob("*.py")
        if setters.search(path.read_text())
    ]
    assert found == ["twin_io/stop_signals.py"]
