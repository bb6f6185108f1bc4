"""SIGINT and SIGTERM as a request to stop: the project's one place for signal handlers.

Four ways, for four kinds of process:

- ``stop_requests()``, around the work of a command that stops cleanly: inside, Ctrl-C and
  SIGTERM (``kill``, ``docker stop``, a scheduler) do not kill the process; the request is
  noted (an event is set, the first signal kept) for the command to stop where it can (between
  two batches, between two cycles), or, with ``interrupt``, the first one raises
  ``KeyboardInterrupt`` where the main thread is, so that a blocking wait ends;
- ``install_process_stop()``, from the first line of a process that must take a signal at any
  time (the gateway before its imports and settings, each partition before the gateway's
  imports): for the whole process, a signal sets one event (``process_stop_requested()``), so
  a signal while it starts is a clean stop (exit code 0), never a kill half-way (-15);
- ``sigterm_as_interrupt()``, while a command starts that stops on Ctrl-C anyway (``twin sim``
  before its run handles signals itself): SIGTERM does what Ctrl-C does;
- ``leave_interrupts_to_parent()``, in a worker process its parent stops (what-if's pool).

``twin sim``'s running phase stops through its asyncio loop's own handlers
(``plant_sim.live.service``): a second signal there cuts the MQTT drains short.
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


_process_stop = threading.Event()


def _note_process_stop(_sig: int, _frame: FrameType | None) -> None:
    _process_stop.set()


def install_process_stop() -> threading.Event:
    """Make SIGINT and SIGTERM set the process's stop request, for good (idempotent); return
    its event."""
    for sig in SIGNALS:
        signal.signal(sig, _note_process_stop)
    return _process_stop


def process_stop_requested() -> bool:
    """Return whether a signal asked the process to stop (see ``install_process_stop``)."""
    return _process_stop.is_set()


@dataclass
class TermSeen:
    """Whether a SIGTERM came inside ``sigterm_as_interrupt`` (else the interrupt was Ctrl-C)."""

    seen: bool = False


@contextmanager
def sigterm_as_interrupt() -> Iterator[TermSeen]:
    """Inside, SIGTERM does what SIGINT does: a ``KeyboardInterrupt`` or, in ``asyncio.run``,
    the cancel of its task, instead of the default kill. The ``TermSeen`` given tells the two
    apart afterwards. The SIGTERM handler is left in place: the command's own takes over."""
    term = TermSeen()

    def on_sigterm(_sig: int, frame: FrameType | None) -> None:
        term.seen = True
        handler = signal.getsignal(signal.SIGINT)
        if callable(handler):  # default_int_handler, or asyncio.run's (cancels its task)
            handler(signal.SIGINT, frame)
        else:
            raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_sigterm)
    yield term


def leave_interrupts_to_parent() -> None:
    """Ignore Ctrl-C in this process, a worker its parent stops: the terminal sends SIGINT to
    the whole process group, and the parent ends its workers itself."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
