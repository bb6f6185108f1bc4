"""What every source shares: a stoppable hand-off into the intake, a bounded wait to subscribe."""

from __future__ import annotations

import logging
import queue
import threading

from gateway.normalize import RawMessage

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


def wait_subscribed(subscribed: threading.Event, endpoint: str) -> None:
    """Wait up to ``SUBSCRIBE_WAIT_S`` for the subscriptions; warn (and go on) if they lag."""
    if not subscribed.wait(SUBSCRIBE_WAIT_S):
        logger.warning(
            "MQTT %s has not confirmed the subscriptions within %.0f s; messages published "
            "before it does are not queued for this session",
            endpoint,
            SUBSCRIBE_WAIT_S,
        )
