"""What every source shares: a blocking, stoppable hand-off into the intake queue."""

from __future__ import annotations

import queue
import threading

from gateway.normalize import RawMessage


def put(intake: queue.Queue[RawMessage], raw: RawMessage, stopping: threading.Event) -> bool:
    """Put ``raw`` into the intake, waiting while it is full; False if stopping first."""
    while not stopping.is_set():
        try:
            intake.put(raw, timeout=0.2)
        except queue.Full:
            continue
        return True
    return False
