"""SIGINT and SIGTERM as a request to stop, for the commands that stop cleanly.

Inside ``stop_requests()`` Ctrl-C and SIGTERM (``kill``, ``docker stop``, a scheduler) do not
kill the process: the request is noted (an event is set, the first signal kept) for the command
to stop where it can (between two batches, between two cycles), or, with ``interrupt``, the
first one raises ``KeyboardInterrupt`` where the main thread is, so that a blocking wait ends.
The gateway, which must take a signal from its first line on, has its own process-wide
handlers (``gateway.stop_signals``).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType

SIGNALS = (signal.SIGINT, signal.SIGTERM)


@dataclass
class StopRequest:
    """A stop asked for by a signal: ``event`` is set and ``signal`` is the first one."""

    event: threading.Event = field(default_factory=threading.Event)
    signal: signal.Signals | None = None

    def is_set(self) -> bool:
        """Return whether a stop was asked for."""
        return self.event.is_set()

    @property
    def name(self) -> str:
        """The first signal's name (``SIGTERM``), or ``an interrupt`` without one."""
        return self.signal.name if self.signal is not None else "an interrupt"


@contextmanager
def stop_requests(interrupt: bool = False) -> Iterator[StopRequest]:
    """Inside, SIGINT and SIGTERM are noted in the ``StopRequest`` given; with ``interrupt``
    the first also raises ``KeyboardInterrupt`` (later ones are only noted, while the command
    stops). A signal ignored on entry stays ignored; the handlers before come back on leaving.
    Off the main thread, where handlers cannot be set, nothing is installed."""
    request = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield request
        return

    def note(signum: int, _frame: FrameType | None) -> None:
        first = not request.event.is_set()
        if first:
            request.signal = signal.Signals(signum)
            request.event.set()
        if first and interrupt:
            raise KeyboardInterrupt

    previous = {}
    for sig in SIGNALS:
        if signal.getsignal(sig) is not signal.SIG_IGN:
            previous[sig] = signal.signal(sig, note)
    try:
        yield request
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
