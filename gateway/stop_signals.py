"""SIGINT and SIGTERM as a request to stop, from the first line of the process on.

``python -m gateway`` and ``twin gateway`` call ``install()`` before their slow imports and
before reading the settings, so a signal that arrives while the gateway starts is a stop
request like any other: the gateway then stops cleanly (exit code 0), never killed half-way
(exit code -15) by the default action.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

_requested = threading.Event()


def _handler(_sig: int, _frame: FrameType | None) -> None:
    _requested.set()


def install() -> threading.Event:
    """Make SIGINT and SIGTERM set the stop request (idempotent); return it."""
    signal.signal(signal.SIGINT, _handler)
    signal.signal(signal.SIGTERM, _handler)
    return _requested


def requested() -> bool:
    """Return whether a stop was requested."""
    return _requested.is_set()
