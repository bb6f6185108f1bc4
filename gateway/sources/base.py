"""What every source shares: a stoppable hand-off into the intake, a bounded wait to subscribe."""

from __future__ import annotations

import logging
import queue
import threading
import time

from gateway.normalize import RawMessage
from twin_io.stop_signals import process_stop_requested

logger = logging.getLogger(__name__)

#: How long ``start()`` waits for the broker to confirm the subscriptions.
SUBSCRIBE_WAIT_S = 10.0


def put(intake: queue.Queue[RawMessage], raw: RawMessage, stopping: threading.Event) -> bool:
    """Put ``raw`` into the intake, waiting while it is full; False if stopping first."""
    while not stopping.is_set():
        try:
            intake.put(raw, timeout=0.2)
        except queue.Full:
            continue
        return True
    return False


def wait_or_stop(event: threading.Event, timeout_s: float) -> bool:
    """Wait up to ``timeout_s`` for ``event``; False at once when a stop is requested
    (SIGINT/SIGTERM, ``stop_signals``), so a start-up wait never outlasts the request."""
    deadline = time.monotonic() + timeout_s
    while not event.wait(min(0.05, max(0.0, deadline - time.monotonic()))):
        if process_stop_requested() or time.monotonic() >= deadline:
            return False
    return True


def wait_subscribed(subscribed: threading.Event, endpoint: str) -> None:
    """Wait up to ``SUBSCRIBE_WAIT_S`` for the subscriptions; warn (and go on) if they lag."""
    if not wait_or_stop(subscribed, SUBSCRIBE_WAIT_S) and not process_stop_requested():
        logger.warning(
            "MQTT %s has not confirmed the subscriptions within %.0f s; messages published "
            "before it does are not queued for this session",
            endpoint,
            SUBSCRIBE_WAIT_S,
        )
